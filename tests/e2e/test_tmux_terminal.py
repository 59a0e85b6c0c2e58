"""End to end: terminals in the real ``symphony`` inside tmux, typed into and read from the pane.

The outer tmux is the user's terminal here: keys go through it to Symphony, which passes them to
the shell in its own PTY, and what that shell's programs draw comes back out through Symphony's
emulator and renderer onto the tmux pane.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import SYMPHONY, Tmux, tmux, wait_exit, workspace

__all__ = ["tmux", "workspace"]  # fixtures shared with test_tmux.py

pytestmark = [pytest.mark.e2e]


def start(tmux: Tmux, workspace: Path, exit_file: Path) -> None:
    """Start symphony at 120x40 with a plain /bin/sh as the terminals' shell.

    COLUMNS and LINES are removed: readline in the test process exports them (80x24 when there
    is no terminal), and they would override the pane's real size.
    """
    command = (
        f"env -u COLUMNS -u LINES {shlex.quote(str(SYMPHONY))} {shlex.quote(str(workspace))};"
        f" echo $? > {shlex.quote(str(exit_file))}"
    )
    env = {"SHELL": "/bin/sh", "PS1": "$ ", "ENV": ""}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = os.environ[var]
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    tmux.run(
        "new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", *env_args,
        "-c", str(workspace), command,
    )  # fmt: skip


def type_line(tmux: Tmux, text: str) -> None:
    tmux.run("send-keys", "-t", "e2e", "-l", text)
    tmux.keys("Enter")


def wait_gone(tmux: Tmux, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = tmux.screen()
    while text in screen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} stayed on screen:\n{screen}")
        time.sleep(0.1)
        screen = tmux.screen()
    return screen


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_terminal_runs_printf_vim_and_less(tmux: Tmux, workspace: Path, tmp_path: Path) -> None:
    exit_file = tmp_path / "exit-code"
    pid_file = tmp_path / "shell-pid"
    start(tmux, workspace, exit_file)
    tmux.wait_for("engine healthy")
    tmux.keys("C-n")
    tmux.wait_for("Terminal 1")
    tmux.wait_for("Leave terminal")
    type_line(tmux, f"printf 'A%sB\\n' 123; echo $$ > {pid_file}")
    screen = tmux.wait_for("A123B")
    assert "printf 'A%sB\\n' 123" in screen  # the echo of what was typed, then its output

    type_line(tmux, "vim -u NONE notes.md")
    tmux.wait_for("# Notes")
    screen = tmux.wait_for('"notes.md"')  # its message line: vim has drawn every row
    assert screen.count("▕~") > 20  # vim's empty-line markers fill its alternate screen
    assert "A123B" not in screen
    tmux.keys("i")
    time.sleep(0.3)
    tmux.run("send-keys", "-t", "e2e", "-l", "typed in vim ")
    tmux.wait_for("typed in vim # Notes")
    tmux.keys("Escape")
    time.sleep(0.5)  # let the escape stand alone (not alt+:)
    type_line(tmux, ":q!")
    screen = wait_gone(tmux, "# Notes")
    assert "A123B" in screen  # back on the main screen, as it was
    assert (workspace / "notes.md").read_text() == "# Notes\n"

    type_line(tmux, "less calculator.py")
    screen = tmux.wait_for("return a + b")
    assert "(END)" in screen or "calculator.py" in screen
    tmux.keys("q")
    wait_gone(tmux, "return a + b")
    type_line(tmux, "echo back in the shell")
    tmux.wait_for("back in the shell\n")

    shell_pid = int(pid_file.read_text())
    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0
    deadline = time.monotonic() + 10
    while not process_gone(shell_pid):
        assert time.monotonic() < deadline, "the terminal's shell outlived symphony"
        time.sleep(0.1)


def test_panel_toggles_and_ctrl_c_stays_in_the_terminal(
    tmux: Tmux, workspace: Path, tmp_path: Path
) -> None:
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file)
    tmux.wait_for("engine healthy")
    tmux.keys("C-j")
    tmux.wait_for("Leave terminal")
    type_line(tmux, "sleep 30")
    time.sleep(0.5)
    tmux.keys("C-c")
    type_line(tmux, "echo panel-$((40 + 2))")
    screen = tmux.wait_for("panel-42")
    assert "Do you want to quit?" not in screen
    tmux.keys("C-j")
    screen = wait_gone(tmux, "panel-42")
    assert "S Y M P H O N Y" in screen  # the welcome view has the room again
    tmux.keys("C-j")
    tmux.wait_for("panel-42")  # the same shell, still running
    tmux.keys("C-g")
    time.sleep(0.3)
    tmux.keys("C-w")  # outside the shell, ctrl+w closes the panel's terminal
    wait_gone(tmux, "panel-42")
    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0
