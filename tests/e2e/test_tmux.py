"""End to end: the real ``symphony`` started in tmux, driven with keys, read from the pane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("tmux") is None and not os.environ.get("CI"), reason="needs tmux"
    ),
]

SYMPHONY = Path(sys.executable).parent / "symphony"


class Tmux:
    """A private tmux server with one session running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on screen; last screen:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(f"symphony-e2e-{os.getpid()}-{tmp_path.name}")
    yield session
    subprocess.run(["tmux", "-L", session.socket, "kill-server"], capture_output=True, check=False)


def start(
    tmux: Tmux,
    workspace: Path,
    exit_file: Path,
    size: tuple[int, int] = (120, 40),
    stderr_file: Path | None = None,
) -> None:
    quoted = [shlex.quote(str(p)) for p in (SYMPHONY, workspace, exit_file)]
    redirect = f" 2> {shlex.quote(str(stderr_file))}" if stderr_file else ""
    # `env -u`: pytest's readline import exports COLUMNS/LINES, which would pin the app's size.
    command = f"env -u COLUMNS -u LINES {quoted[0]} {quoted[1]}{redirect}; echo $? > {quoted[2]}"
    env_args = []
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env_args += ["-e", f"{var}={os.environ[var]}"]
    tmux.run(
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        str(size[0]),
        "-y",
        str(size[1]),
        *env_args,
        "-c",
        str(workspace),
        command,
    )


def wait_exit(exit_file: Path, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exit_file.exists() and exit_file.read_text().strip():
            return int(exit_file.read_text())
        time.sleep(0.1)
    raise AssertionError("symphony did not exit")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "e2e-project"
    ws.mkdir()
    (ws / "calculator.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "notes.md").write_text("# Notes\n")
    (ws / "ignored.log").write_text("x\n")
    (ws / ".gitignore").write_text("*.log\n")
    return ws


def test_open_workspace_palette_and_quit(tmux: Tmux, workspace: Path, tmp_path: Path) -> None:
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file)
    screen = tmux.wait_for("calculator.py")
    assert "notes.md" in screen
    assert "ignored.log" not in screen
    assert "S Y M P H O N Y" in screen
    tmux.wait_for("engine healthy")
    tmux.keys("C-p")
    tmux.wait_for("Toggle sidebar")
    tmux.wait_for("Change theme")  # the palette lists its hits in batches
    tmux.keys("health")
    tmux.wait_for("Show every engine component's health")
    tmux.keys("Enter")
    screen = tmux.wait_for("Engine health: healthy")
    for component in ("types", "config", "workspace", "bus", "environment"):
        assert component in screen
    tmux.keys("Escape")
    time.sleep(0.3)
    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0


def test_works_at_80x24_and_opens_a_file_preview(
    tmux: Tmux, workspace: Path, tmp_path: Path
) -> None:
    exit_file = tmp_path / "exit-code"
    start(tmux, workspace, exit_file, size=(80, 24))
    tmux.wait_for("calculator.py")
    tmux.wait_for("engine healthy")
    # The explorer has focus on its root; files sort as .gitignore, calculator.py, notes.md.
    tmux.keys("Down", "Down")
    time.sleep(0.2)
    tmux.keys("Enter")
    screen = tmux.wait_for("return a + b")
    assert "calculator.py" in screen
    tmux.keys("C-q")
    assert wait_exit(exit_file) == 0


def test_invalid_config_exits_2_with_the_reason(
    tmux: Tmux, workspace: Path, tmp_path: Path
) -> None:
    (workspace / ".symphony").mkdir()
    (workspace / ".symphony" / "config.toml").write_text("[ide]\ntheem = 'x'\n")
    exit_file = tmp_path / "exit-code"
    stderr_file = tmp_path / "stderr"
    start(tmux, workspace, exit_file, stderr_file=stderr_file)
    assert wait_exit(exit_file) == 2
    message = stderr_file.read_text()
    assert str(workspace / ".symphony" / "config.toml") in message
    assert "ide.theem" in message and "unknown key" in message
