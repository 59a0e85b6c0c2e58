"""Terminal transcripts kept as artifacts (``ide.terminal.transcripts``), in a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from engine.config.models import ArtifactRetention
from engine.pit.artifacts.models import SearchHit
from engine.pit.artifacts.store import ArtifactStore
from engine.terminal.transcripts import Transcript, transcript_command
from symphony_tui.app import SymphonyApp
from symphony_tui.widgets.terminal import Terminal
from tests.tui.helpers import wait_for

pytestmark = pytest.mark.usefixtures("plain_shell")

SIZE = (100, 30)


def transcripts(workspace: Path) -> list[tuple[SearchHit, str]]:
    store = ArtifactStore.for_workspace(workspace, ArtifactRetention())
    try:
        hits = store.search("", tags=("terminal", "transcript"))
        return [(hit, store.get_bytes(hit.hash).decode()) for hit in hits]
    finally:
        store.close()


def rendered(terminal: Terminal) -> str:
    return "\n".join(terminal.render_line(y).text for y in range(terminal.size.height))


async def open_terminal(pilot: Pilot[Any], app: SymphonyApp) -> Terminal:
    await wait_for(pilot, lambda: app.engine.ready)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(app.focused, Terminal))
    terminal = app.focused
    assert isinstance(terminal, Terminal)
    await wait_for(pilot, lambda: "$" in rendered(terminal))
    return terminal


async def test_closing_a_terminal_keeps_what_it_showed(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await pilot.press(*"echo kept-$((6*7))", "enter")
        await wait_for(pilot, lambda: "kept-42" in rendered(terminal))
        await pilot.press("ctrl+g", "ctrl+w")
        await wait_for(pilot, lambda: len(transcripts(workspace)) == 1)
    [(hit, text)] = transcripts(workspace)
    assert "echo kept-$((6*7))\nkept-42\n" in text
    assert hit.names == ("terminal-sh@1",) and hit.media_type == "text/plain"
    assert set(hit.tags) == {"terminal", "transcript", "closed"}


async def test_a_program_that_ends_is_kept_with_its_exit_status_and_quitting_keeps_the_rest(
    workspace: Path,
) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=SIZE) as pilot:
        first = await open_terminal(pilot, app)
        await pilot.press(*"echo first; exit 3", "enter")
        await wait_for(pilot, lambda: "exit status 3" in rendered(first) or not first.alive)
        await wait_for(pilot, lambda: len(transcripts(workspace)) == 1)
        await pilot.press("ctrl+n")  # the ended terminal no longer takes keys
        await wait_for(
            pilot,
            lambda: (
                len(app.screen.query(Terminal)) == 2
                and app.focused is app.screen.query(Terminal).last()
            ),
        )
        second = app.focused
        assert isinstance(second, Terminal)
        await wait_for(pilot, lambda: "$" in rendered(second))
        await pilot.press(*"echo second", "enter")
        await wait_for(pilot, lambda: "second" in rendered(second).split())
        await pilot.press("ctrl+q")
        await pilot.pause(0.3)
    kept = {frozenset(hit.tags): text for hit, text in transcripts(workspace)}
    assert len(kept) == 2, "one transcript per session, none twice"
    assert "first" in kept[frozenset({"terminal", "transcript", "exit-3"})]
    assert "echo second\nsecond" in kept[frozenset({"terminal", "transcript", "closed"})]


async def test_transcripts_can_be_turned_off(workspace: Path) -> None:
    app = SymphonyApp(workspace, overrides=["ide.terminal.transcripts=false"], watch_config=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_terminal(pilot, app)
        await pilot.press(*"echo nothing kept", "enter")
        await pilot.pause(0.3)
    assert transcripts(workspace) == []


def test_an_empty_terminal_is_not_kept() -> None:
    empty = Transcript(
        text="\n", argv=("bash",), cwd="/", started_at=1.0, ended_at=2.0, exit_status=0
    )
    assert transcript_command(empty) is None
    full = Transcript(
        text="$ ls\n",
        argv=("/bin/bash", "-l"),
        cwd="/",
        started_at=1.0,
        ended_at=2.0,
        exit_status=-9,
    )
    command = transcript_command(full)
    assert command is not None and command.name == "terminal-bash"
    assert command.tags == ("terminal", "transcript", "signal-9")
