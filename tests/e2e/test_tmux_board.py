"""End to end: the real ``symphony`` in tmux opens a melody on the Harmony Board (F3), runs it
(``r``) until the header says it completed, then finds the run in the runs view (F4)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import Tmux, start, tmux, wait_exit, workspace

__all__ = ["tmux", "workspace"]  # fixtures shared with test_tmux.py

pytestmark = [pytest.mark.e2e]

PIPELINE = """\
[melody]
name = "pipeline"

[[steps]]
id = "build"
uses = "shell.run"
with = { command = "echo building" }

[[steps]]
id = "check"
uses = "shell.run"
needs = ["build"]
with = { command = "echo checking" }
"""


def wait_until(tmux: Tmux, pattern: str, timeout: float = 30.0) -> str:
    """The screen once ``pattern`` (a regular expression) matches it."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if re.search(pattern, screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never matched the screen; last screen:\n{screen}")


def header(screen: str) -> str:
    """The board's header line (``◆ pipeline   run ID  ✓ completed …``)."""
    return next(line for line in screen.splitlines() if "◆ pipeline " in line)


def board_area(screen: str) -> str:
    """The board's drawing: the lines between its header and the details (under the board
    in a terminal this size)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "◆ pipeline " in line)
    bottom = next(i for i, line in enumerate(lines) if i > top and "▔▔▔" in line)
    return "\n".join(lines[top + 1 : bottom])


def test_run_a_melody_on_the_board_then_see_it_in_the_runs_view(
    tmux: Tmux, workspace: Path, tmp_path: Path
) -> None:
    folder = workspace / ".symphony" / "melodies"
    folder.mkdir(parents=True)
    (folder / "pipeline.toml").write_text(PIPELINE)
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file)
    tmux.wait_for("engine healthy")

    tmux.keys("F3")  # the only melody: no list to choose from
    screen = tmux.wait_for("not run yet")
    assert "◆ pipeline" in screen
    assert "build" in screen and "check" in screen

    tmux.keys("r")
    started = re.search(r"run (\S+) of pipeline started", wait_until(tmux, r"of pipeline started"))
    assert started is not None
    run_id = started.group(1)
    screen = wait_until(tmux, r"✓ completed .*2/2 done")
    assert run_id.startswith(re.split(r" run +", header(screen))[1].split()[0])
    # Both boxes on the board show the completed glyph and state, nothing else.
    board = board_area(screen)
    assert re.search(r"✓ ?build", board) and re.search(r"✓ ?check", board), screen
    assert board.count("completed") == 2, screen
    assert not re.search(r"pending|queued|running|failed|skipped", board), screen

    tmux.keys("F4")
    screen = wait_until(tmux, r"✓ completed +pipeline")
    row = next(line for line in screen.splitlines() if run_id in line)
    assert re.search(r"✓ completed +pipeline .* 2✓ ", row), row

    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0
