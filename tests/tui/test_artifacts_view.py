"""The artifacts view driven as a user would, on a real engine and a real artifact store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from engine.pit.artifacts import ArtifactInfo, ArtifactStore, Producer
from engine.pit.messages import ArtifactSearchResults, PutArtifact
from symphony_tui.app import SymphonyApp
from symphony_tui.views.artifact_preview import LineageTree
from symphony_tui.views.artifacts import PREVIEW_BYTES, ArtifactsView
from symphony_tui.widgets.editor import Editor
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import wait_for


def fill_store(ws: Path) -> dict[str, ArtifactInfo]:
    """Artifacts of every preview kind, with lineage report → results → summary."""
    with ArtifactStore(ws / ".symphony" / "artifacts") as store:
        report = store.put_bytes(
            b"# Test report\n\nAll **42** tests passed.\n",
            name="report.md",
            tags=("ci",),
            producer=Producer(extension="pytest@8.4"),
        )
        results = store.put_bytes(
            json.dumps({"passed": 42, "failed": 0, "suites": ["unit", "tui"]}).encode(),
            name="results.json",
            inputs=(report.hash,),
            producer=Producer(run="run-0001", node="collect"),
        )
        summary = store.put_bytes(
            b"def summary():\n    return 'green'\n", name="summary.py", inputs=(results.hash,)
        )
        blob = store.put_bytes(bytes(range(256)), name="model.bin")
        big = store.put_bytes(b"line of a long log\n" * 30_000, name="build.log")
        return {
            "report": report,
            "results": results,
            "summary": summary,
            "blob": blob,
            "big": big,
        }


@pytest.fixture
def artifacts(workspace: Path) -> dict[str, ArtifactInfo]:
    return fill_store(workspace)


async def open_artifacts(pilot: Any) -> ArtifactsView:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    view = await app.main_screen.open_view("artifacts", "Artifacts", ArtifactsView)
    assert isinstance(view, ArtifactsView)
    await wait_for(pilot, lambda: len(view.hits) > 0)
    return view


def row_names(view: ArtifactsView) -> list[str]:
    table: DataTable[Any] = view.table
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def select(pilot: Any, view: ArtifactsView, digest: str) -> None:
    view.table.focus()
    view.table.move_cursor(row=view.table.get_row_index(digest))
    await wait_for(
        pilot,
        lambda: view.current == digest and view.preview.shown == digest,
    )


async def test_opening_lists_the_newest_first_and_typing_narrows(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        assert row_names(view) == [
            "build.log@1",
            "model.bin@1",
            "summary.py@1",
            "results.json@1",
            "report.md@1",
        ]
        await wait_for(pilot, lambda: app.focused is view.search_box)
        await pilot.press(*"tests")
        await wait_for(pilot, lambda: row_names(view) == ["report.md@1"])
        for _ in "tests":
            await pilot.press("backspace")
        await pilot.press(*"tag:ci")
        await wait_for(pilot, lambda: row_names(view) == ["report.md@1"])
        await pilot.press("ctrl+u", *"type:json")
        await wait_for(pilot, lambda: row_names(view) == ["results.json@1"])
        await pilot.press("ctrl+u", *"since:banana")
        status = view.query_one("#artifacts-status")
        await wait_for(pilot, lambda: "since:banana" in str(status.render()))
        await pilot.press("ctrl+u", *"nothing-like-this")
        await wait_for(pilot, lambda: view.hits == [])
        assert view.query_one("#artifacts-empty").display


async def test_a_late_reply_for_an_older_search_is_ignored(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        await pilot.press(*"tag:ci")
        await wait_for(pilot, lambda: row_names(view) == ["report.md@1"])
        stale = ArtifactSearchResults(hits=(), infos=())
        view._got_results(view._search_seq - 1, "", stale)
        await pilot.pause(0.1)
        assert row_names(view) == ["report.md@1"]


async def test_the_highlighted_artifact_is_previewed_by_its_type(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        await select(pilot, view, artifacts["report"].hash)
        assert view.preview.kind == "markdown"
        await select(pilot, view, artifacts["results"].hash)
        assert view.preview.kind == "json"
        await select(pilot, view, artifacts["summary"].hash)
        assert view.preview.kind == "text"
        area = view.preview.content_widget
        assert area is not None and getattr(area, "language", None) == "python"
        await select(pilot, view, artifacts["blob"].hash)
        assert view.preview.kind == "binary"
        await select(pilot, view, artifacts["big"].hash)
        assert view.preview.kind == "text"
        note = view.preview.query_one("#preview-note")
        assert note.display and "Showing the first 256 KiB" in str(note.render())
        assert len(getattr(view.preview.content_widget, "text", "")) <= PREVIEW_BYTES
        # enter moves into the preview to scroll it; escape comes back to the results
        await pilot.press("enter")
        assert app.focused is view.preview.content_widget
        await pilot.press("escape")
        assert app.focused is view.table


async def test_lineage_walks_to_inputs_and_outputs(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        await select(pilot, view, artifacts["results"].hash)
        await pilot.press("l")
        tree = view.query_one(LineageTree)
        await wait_for(pilot, lambda: tree.lineage is not None and app.focused is tree)
        hashes = {node.data for node in tree._tree_nodes.values()}
        assert {artifacts["report"].hash, artifacts["summary"].hash} <= hashes
        # walk down to the input (report.md) and choose it
        target = next(n for n in tree._tree_nodes.values() if n.data == artifacts["report"].hash)
        tree.move_cursor(target)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                view.current == artifacts["report"].hash
                and tree.lineage is not None
                and tree.lineage.root.hash == artifacts["report"].hash
            ),
        )
        assert view.table.cursor_row == view.table.get_row_index(artifacts["report"].hash)
        await pilot.press("l")
        assert not view.lineage_shown


async def test_p_pins_and_unpins_in_the_store(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    root = workspace / ".symphony" / "artifacts"
    digest = artifacts["summary"].hash
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_artifacts(pilot)
        await select(pilot, view, digest)
        await pilot.press("p")
        await wait_for(pilot, lambda: view.infos[digest].pinned)
        with ArtifactStore(root) as store:
            assert store.info(digest).pinned
        assert str(view.table.get_row(digest)[0]) == "●"
        await pilot.press("p")
        await wait_for(pilot, lambda: not view.infos[digest].pinned)
        with ArtifactStore(root) as store:
            assert not store.info(digest).pinned


async def test_o_opens_the_artifact_read_only_in_an_editor_tab(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        await select(pilot, view, artifacts["summary"].hash)
        await pilot.press("o")
        await wait_for(pilot, lambda: len(app.screen.query(Editor)) == 1)
        editor = app.screen.query_one(Editor)
        assert editor.path.name == "summary.py"
        assert editor.path.is_relative_to(workspace / ".symphony" / "tmp" / "artifacts")
        assert "return 'green'" in editor.text and editor.area.read_only
        assert app.focused is editor.area


async def test_new_artifacts_appear_without_searching_again(
    workspace: Path, artifacts: dict[str, ArtifactInfo]
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_artifacts(pilot)
        started = time.monotonic()
        app.send(PutArtifact(data=b"fresh output", name="fresh.txt"))
        await wait_for(pilot, lambda: "fresh.txt@1" in row_names(view), timeout=5)
        assert time.monotonic() - started < 5
        assert row_names(view)[0] == "fresh.txt@1"


async def test_an_empty_workspace_says_so_and_creates_no_store(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
        view = await app.main_screen.open_view("artifacts", "Artifacts", ArtifactsView)
        assert isinstance(view, ArtifactsView)
        empty = view.query_one("#artifacts-empty")
        await wait_for(pilot, lambda: empty.display)
        assert "No artifacts yet" in str(empty.render())
    assert not (workspace / ".symphony").exists()
