"""End to end: the real ``symphony`` in tmux opens a file with quick-open, edits, saves, and
asks before quitting with unsaved changes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import Tmux, start, tmux, wait_exit, workspace

__all__ = ["tmux", "workspace"]  # fixtures shared with test_tmux.py

pytestmark = [pytest.mark.e2e]


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met")


def test_quick_open_edit_save_and_quit_prompt(tmux: Tmux, workspace: Path, tmp_path: Path) -> None:
    path = workspace / "calculator.py"
    path.chmod(0o750)
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file, size=(80, 24))
    tmux.wait_for("engine healthy")
    tmux.keys("C-o")
    tmux.wait_for("files")  # the file count under the results
    tmux.run("send-keys", "-t", "e2e", "-l", "calc")
    tmux.wait_for("1 of 3 files")  # the search for "calc" is done, not only the listing
    tmux.keys("Enter")
    tmux.wait_for("return a + b")
    tmux.run("send-keys", "-t", "e2e", "-l", "# edited")
    tmux.keys("Enter")  # a literal "\n" would arrive as ctrl+j (the panel key)
    tmux.wait_for("● calculator.py")
    tmux.keys("C-s")
    wait_until(lambda: path.read_text().startswith("# edited\ndef add"))
    assert path.read_text() == "# edited\ndef add(a, b):\n    return a + b\n"
    assert path.stat().st_mode & 0o777 == 0o750
    tmux.wait_for("saved calculator.py")
    wait_until(lambda: "● calculator.py" not in tmux.screen())
    # Unsaved again: quitting asks; Cancel keeps Symphony running, Discard quits.
    tmux.run("send-keys", "-t", "e2e", "-l", "x")
    tmux.wait_for("● calculator.py")
    tmux.keys("C-q")
    tmux.wait_for("Quit with unsaved changes?")
    tmux.keys("Escape")
    time.sleep(0.3)
    assert not exit_file.exists()
    tmux.keys("C-q")
    tmux.wait_for("Discard")
    tmux.keys("Right")  # from "Save all" to "Discard"
    time.sleep(0.2)
    tmux.keys("Enter")
    assert wait_exit(exit_file) == 0
    assert path.read_text().startswith("# edited\ndef add")


def test_remapped_keys_and_f1_help(tmux: Tmux, workspace: Path, tmp_path: Path) -> None:
    """A project keymap moves quick open to ctrl+u; F1 shows it; the old key does nothing."""
    (workspace / ".symphony").mkdir(exist_ok=True)
    (workspace / ".symphony" / "config.toml").write_text(
        '[ide.keymap]\nquick_open = "ctrl+u"\nsav = "f5"\n'
    )
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file, size=(100, 30))
    screen = tmux.wait_for("engine healthy")
    assert "^u  Open a file by name" in screen
    tmux.wait_for("Key bindings skipped")  # the unknown id, in a notification
    tmux.keys("F1")
    tmux.wait_for("filter: key, action, place or id")
    tmux.run("send-keys", "-t", "e2e", "-l", "quick")
    screen = tmux.wait_for("quick_open")
    row = next(line for line in screen.splitlines() if "quick_open" in line)
    assert "ctrl+u" in row and "Open a file by name" in row
    tmux.keys("Escape")
    time.sleep(0.3)
    tmux.keys("C-o")
    time.sleep(0.5)
    assert "files" not in tmux.screen()  # ctrl+o opens nothing now
    tmux.keys("C-k")
    tmux.wait_for("calculator.py")
    tmux.keys("Escape")
    time.sleep(0.2)
    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0
