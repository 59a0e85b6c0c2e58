"""End to end: the real ``symphony`` in tmux loses its terminal (SIGHUP) with an unsaved
buffer; the next start offers it back and Restore shows the text again."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import Tmux, start, tmux, wait_exit, workspace

__all__ = ["tmux", "workspace"]  # fixtures shared with test_tmux.py

pytestmark = [pytest.mark.e2e]


def symphony_pid(tmux: Tmux) -> int:
    """The symphony process under the pane's shell."""
    shell = tmux.run("display", "-p", "-t", "e2e", "#{pane_pid}").strip()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = subprocess.run(
            ["pgrep", "-P", shell], capture_output=True, text=True, check=False
        ).stdout.split()
        for child in [shell, *children]:
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
                words = argv.split("\0")
                if Path(words[0]).name != "env" and any(
                    Path(w).name == "symphony" for w in words[:2]
                ):
                    return int(child)
        time.sleep(0.1)
    raise AssertionError("symphony process not found")


def test_sighup_keeps_unsaved_buffer_and_restore_brings_it_back(
    tmux: Tmux, workspace: Path, tmp_path: Path
) -> None:
    path = workspace / "calculator.py"
    original = path.read_text()
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file, size=(100, 30))
    tmux.wait_for("engine healthy")
    tmux.keys("C-o")
    tmux.wait_for("files")
    tmux.run("send-keys", "-t", "e2e", "-l", "calc")
    tmux.wait_for("1 of 3 files")  # the search for "calc" is done, not only the listing
    tmux.keys("Enter")
    tmux.wait_for("return a + b")
    tmux.run("send-keys", "-t", "e2e", "-l", "# recovered edit")
    tmux.wait_for("● calculator.py")
    tmux.wait_for("# recovered editdef add(a, b):")  # every key typed, not only the first
    subprocess.run(["kill", "-HUP", str(symphony_pid(tmux))], check=True)
    wait_exit(exit_file)
    assert path.read_text() == original  # nothing written to the file itself

    # The pane closed with symphony; end the session in case it lingers.
    subprocess.run(["tmux", "-L", tmux.socket, "kill-session", "-t", "e2e"], check=False)
    exit_file.unlink()
    start(tmux, workspace, exit_file, size=(100, 30))
    screen = tmux.wait_for("Restore unsaved work?")
    assert "1 unsaved buffer from a previous session" in screen
    assert "calculator.py" in screen
    tmux.keys("Enter")  # Restore is the default button
    tmux.wait_for("# recovered editdef add(a, b):")
    # The tab is marked unsaved once the restored text is in (a frame later under load).
    screen = tmux.wait_for("● calculator.py")
    assert "# recovered editdef add(a, b):" in screen
    assert path.read_text() == original
