"""The extensions view in a real SymphonyApp (real engine, installer and archives), driven by
keys: disable and enable an extension, follow state changes made elsewhere, install from a
local marketplace index through the permission review, and cancel the review."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Label, Static

from engine.extensions.lifecycle import State
from symphony_tui.app import SymphonyApp
from symphony_tui.views.extensions import ExtensionsView, InstallReviewScreen
from symphony_tui.widgets.feedback import ProgressScreen
from symphony_tui.widgets.status_bar import StatusBar
from tests.installer.support import publish_ext, snapshot, user_dir, write_ext
from tests.tui.helpers import wait_for


def add_market(ws: Path) -> None:
    """A marketplace index beside the workspace with one packed extension, configured."""
    market = ws / "market"
    market.mkdir()
    src = write_ext(ws.parent / "src", "acme.wc", "1.0.0", permissions='fs = { read = ["*.txt"] }')
    publish_ext(src, str(market / "index.json"), market)
    (ws / ".symphony").mkdir(exist_ok=True)
    (ws / ".symphony" / "config.toml").write_text(
        '[extensions]\nmarketplace = "market/index.json"\n'
    )


async def open_view(pilot: Pilot[int]) -> ExtensionsView:
    app = pilot.app
    assert isinstance(app, SymphonyApp)
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    screen = app.main_screen
    assert screen is not None
    view = await screen.open_view("extensions", "Extensions", ExtensionsView)
    assert isinstance(view, ExtensionsView)
    await wait_for(pilot, lambda: "symphony.git" in view.statuses)
    return view


def cell(view: ExtensionsView, ext_id: str, column: int) -> str:
    table = view.query_one("#ext-table", DataTable)
    return str(table.get_row(ext_id)[column])


async def select(pilot: Pilot[int], view: ExtensionsView, ext_id: str) -> None:
    table = view.query_one("#ext-table", DataTable)
    table.focus()
    while view.selected_id() != ext_id:
        await pilot.press("down")
    await wait_for(pilot, lambda: view.detail is not None and view.detail.status.id == ext_id)


async def test_disable_and_enable_with_the_key_and_the_button(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot)
        await select(pilot, view, "symphony.git")
        assert view.statuses["symphony.git"].enabled
        assert view.query_one("#ext-toggle", Button).label.plain == "Disable"

        await pilot.press("e")
        await wait_for(pilot, lambda: not view.statuses["symphony.git"].enabled)
        assert cell(view, "symphony.git", 1).endswith("(off)")
        await wait_for(pilot, lambda: view.query_one("#ext-toggle", Button).label.plain == "Enable")
        assert not app.engine.extensions.status("symphony.git").enabled

        await pilot.click("#ext-toggle")
        await wait_for(pilot, lambda: view.statuses["symphony.git"].enabled)
        assert not cell(view, "symphony.git", 1).endswith("(off)")
        assert app.engine.extensions.status("symphony.git").enabled


async def test_state_changes_made_elsewhere_show_live(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot)
        assert view in app._engine_listeners
        # Not through the view: the engine emits ExtensionStateChanged and the view follows.
        await asyncio.to_thread(app.engine.extensions.set_enabled, "symphony.fs", False)
        await wait_for(pilot, lambda: not view.statuses["symphony.fs"].enabled)
        assert cell(view, "symphony.fs", 1).endswith("(off)")
        screen = app.main_screen
        assert screen is not None
        await pilot.press("ctrl+w")  # closing the tab unmounts the view
        await wait_for(pilot, lambda: screen.view("extensions") is None)
        assert view not in app._engine_listeners


async def test_install_from_the_marketplace_through_the_review(workspace: Path) -> None:
    add_market(workspace)
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: "acme.wc" in view.entries)
        assert view.entries["acme.wc"].installed is None
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InstallReviewScreen))
        dialog = app.screen
        lines = [str(static.render()) for static in dialog.query(Static)]
        assert any(line.startswith("Install acme.wc 1.0.0 (operator, new)") for line in lines)
        assert any("files read:" in line and "*.txt" in line for line in lines)
        assert any("runs:" in line and "in its own process" in line for line in lines)
        assert app.focused is not None and app.focused.id == "review-cancel"

        await pilot.press("shift+tab")  # to Install, keyboard only
        assert app.focused is not None and app.focused.id == "review-install"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "acme.wc" in view.statuses, timeout=60)
        # Live: installed first, then loaded (in its own host process).
        await wait_for(pilot, lambda: view.statuses["acme.wc"].state is State.LOADED, timeout=60)
        status = view.statuses["acme.wc"]
        assert status.enabled and status.version == "1.0.0"
        assert cell(view, "acme.wc", 1) == "loaded"
        assert (user_dir() / "acme.wc" / "symphony-extension.toml").is_file()
        await wait_for(pilot, lambda: view.entries["acme.wc"].installed == "1.0.0")
        await wait_for(pilot, lambda: view.progressive is None)
        assert not any(isinstance(s, ProgressScreen) for s in app.screen_stack)


async def test_cancel_in_the_review_installs_nothing(workspace: Path) -> None:
    add_market(workspace)
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot)
        before = snapshot()
        await pilot.press("m")
        await wait_for(pilot, lambda: "acme.wc" in view.entries)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InstallReviewScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, InstallReviewScreen))
        message = view.query_one("#ext-message", Label)
        await wait_for(pilot, lambda: "nothing installed" in str(message.render()))
        await pilot.pause(0.3)
        assert snapshot() == before
        assert "acme.wc" not in view.statuses
        assert view.entries["acme.wc"].installed is None
