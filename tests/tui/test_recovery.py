"""Crash recovery with Pilot: unsaved buffers kept in the recovery area are offered back on the
next start (Restore / Discard), saved or discarded buffers leave it, and the layout comes back."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from textual.widgets import Button, Static, TabbedContent

from symphony_tui import app as app_module
from symphony_tui.app import SymphonyApp
from symphony_tui.screens.editor_dialogs import ChoiceDialog
from symphony_tui.screens.main import MainScreen
from tests.tui.helpers import wait_for


def main_screen(app: SymphonyApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


async def edit_and_flush(workspace: Path, name: str, typed: str) -> None:
    """A first session: open ``name``, type without saving, let the periodic save run."""
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        editor = await screen.open_file(workspace / name)
        assert editor is not None
        await pilot.press(*typed)
        await wait_for(pilot, lambda: editor.dirty)
        screen.flush_recovery()  # what the 5 s timer does


async def answer(app: SymphonyApp, pilot: object, choice: str) -> str:
    await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))  # type: ignore[arg-type]
    dialog = app.screen
    message = str(dialog.query(Static)[1].render())
    dialog.query_one(f"#choice-{choice}", Button).press()
    await wait_for(pilot, lambda: not isinstance(app.screen, ChoiceDialog))  # type: ignore[arg-type]
    return message


async def test_restore_brings_back_the_unsaved_text(workspace: Path) -> None:
    await edit_and_flush(workspace, "main.py", "abc")
    assert (workspace / "main.py").read_text() == "def main():\n    print('hello')\n"
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        message = await answer(app, pilot, "restore")
        assert "1 unsaved buffer from a previous session" in message
        assert "main.py" in message
        assert "changed on disk" not in message
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.active_editor is not None)
        editor = screen.active_editor
        assert editor is not None
        assert editor.text == "abcdef main():\n    print('hello')\n"
        await wait_for(pilot, lambda: editor.dirty)
        assert screen.keeper.store is not None
        assert [e.path for e in screen.keeper.store.entries()] == ["main.py"]
        # Saving writes the file and drops the recovery entry.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen.keeper.store.entries())  # type: ignore[union-attr]
        assert (workspace / "main.py").read_text().startswith("abcdef main")


async def test_restore_marks_files_changed_on_disk(workspace: Path) -> None:
    await edit_and_flush(workspace, "main.py", "zz")
    (workspace / "main.py").write_text("changed elsewhere\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        message = await answer(app, pilot, "restore")
        assert "main.py  (changed on disk since)" in message
        await wait_for(pilot, lambda: main_screen(app).active_editor is not None)
        editor = main_screen(app).active_editor
        assert editor is not None
        assert editor.text.startswith("zzdef main")
        assert editor.dirty


async def test_discard_clears_the_recovery_area(workspace: Path) -> None:
    await edit_and_flush(workspace, "main.py", "abc")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await answer(app, pilot, "discard")
        screen = main_screen(app)
        store = screen.keeper.store
        assert store is not None
        await wait_for(pilot, lambda: store.entries() == [])  # handled just after it closes
        assert screen.active_editor is None
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ChoiceDialog)


async def test_closing_without_saving_drops_the_entry(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        editor = await screen.open_file(workspace / "main.py")
        assert editor is not None
        await pilot.press("x")
        await wait_for(pilot, lambda: editor.dirty)
        screen.flush_recovery()
        assert screen.keeper.store is not None
        assert len(screen.keeper.store.entries()) == 1
        await pilot.press("ctrl+w")
        await answer(app, pilot, "discard")
        store = screen.keeper.store
        await wait_for(pilot, lambda: store.entries() == [])


async def test_signal_handler_flushes_and_exits(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "SIGNAL_EXIT_GRACE", None)
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        editor = await screen.open_file(workspace / "src" / "util.py")
        assert editor is not None
        await pilot.press("Y")
        await wait_for(pilot, lambda: editor.dirty)
        app._on_fatal_signal(signal.SIGHUP, None)
        assert screen.keeper.store is not None
        assert [(e.path, e.text) for e in screen.keeper.store.entries()] == [
            ("src/util.py", "YX = 1\n")
        ]
        await pilot.pause(0.2)
    assert app.return_code == 0


async def test_layout_is_restored(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await screen.open_file(workspace / "README.md")
        await screen.open_file(workspace / "main.py")
        await pilot.press("alt+shift+right", "alt+shift+right")  # 32 -> 40 columns
        screen.set_panel_height(12)
        await pilot.press("ctrl+b")  # hide the sidebar
        await pilot.pause()
        screen.flush_recovery()
        layout = screen.keeper.store.load_layout() if screen.keeper.store else None
        assert layout == {
            "editors": ["README.md", "main.py"],
            "terminals": 0,
            "sidebar": False,
            "panel": False,
            "panel_height": 12,
            "sidebar_width": 40,
            "active": "file:main.py",
        }
    (workspace / "README.md").unlink()  # gone since: not reopened
    app = SymphonyApp(workspace, restore_layout=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: len(screen.editors) == 1)
        assert screen.editors[0].path == workspace / "main.py"
        assert not screen.query_one("#sidebar").display
        assert (screen.sidebar_columns, screen.panel_rows) == (40, 12)
        await pilot.press("ctrl+b")
        sidebar = screen.query_one("#sidebar")
        await wait_for(pilot, lambda: sidebar.outer_size.width == 40)
        tabs = screen.query_one("#main-tabs", TabbedContent)
        assert screen.active_editor is screen.editors[0]
        assert tabs.active.startswith("tab-file-")
    # Without restore_layout (as in tests), the layout is left alone.
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert main_screen(app).editors == []
