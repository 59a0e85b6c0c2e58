"""Start-up benchmarks: ``symphony --help`` and TUI start-up to first paint.

Both are measured as wall time of real processes, next to ``python -c "import textual.app"``
and a minimal Textual app's first paint measured in the same run. First paint is detected by
reading the program's output through a real PTY until a known text appears on screen.
"""

from __future__ import annotations

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ptyprocess

from bench.common import Figure, print_table

RUNS = 7
BIN = Path(sys.executable).parent

_MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("MINIMAL-READY")
Minimal().run()
"""


def _wall(cmd: list[str], runs: int = RUNS) -> float:
    """Median wall time of a command, in ms."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _first_paint(argv: list[str], marker: bytes, cwd: Path, env: dict[str, str]) -> float:
    """Time from spawn until ``marker`` appears in the PTY output, in ms; then quit the app."""
    t0 = time.perf_counter()
    proc = ptyprocess.PtyProcess.spawn(argv, cwd=str(cwd), env=env, dimensions=(40, 120))
    proc.delayafterclose = 0
    seen = b""
    try:
        while marker not in seen:
            if time.perf_counter() - t0 > 30:
                raise RuntimeError(f"{argv[0]}: {marker!r} not painted within 30 s")
            if select.select([proc.fd], [], [], 0.5)[0]:
                seen = seen[-4096:] + proc.read(65536)
        elapsed = (time.perf_counter() - t0) * 1000
        proc.write(b"\x11")  # ctrl+q
        deadline = time.monotonic() + 10
        while proc.isalive() and time.monotonic() < deadline:
            if not select.select([proc.fd], [], [], 0.2)[0]:
                continue
            try:
                proc.read(65536)
            except EOFError:
                break
    finally:
        if proc.isalive():
            proc.terminate(force=True)
    return elapsed


def _median_paint(argv: list[str], marker: bytes, cwd: Path, env: dict[str, str]) -> float:
    return statistics.median(_first_paint(argv, marker, cwd, env) for _ in range(RUNS))


def run() -> list[Figure]:
    """Measure and return the start-up figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        work = root / "workspace"
        work.mkdir()
        (work / "main.py").write_text("print('hello')\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYMPHONY_")}
        env.update(
            TERM="xterm-256color",
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
        )
        minimal = root / "minimal.py"
        minimal.write_text(_MINIMAL_APP)

        import_textual = _wall([sys.executable, "-c", "import textual.app"])
        help_ms = _wall([str(BIN / "symphony"), "--help"])
        version_ms = _wall([str(BIN / "symphony"), "version"])
        minimal_paint = _median_paint([sys.executable, str(minimal)], b"MINIMAL-READY", work, env)
        # The logo is one styled run, so it arrives as contiguous bytes once painted.
        symphony_paint = _median_paint(
            [str(BIN / "symphony"), str(work)], b"S Y M P H O N Y", work, env
        )
    return [
        Figure("symphony --help", help_ms, "ms", 'python -c "import textual.app"', import_textual),
        Figure(
            "symphony version", version_ms, "ms", 'python -c "import textual.app"', import_textual
        ),
        Figure(
            "symphony TUI first paint",
            symphony_paint,
            "ms",
            'python -c "import textual.app"',
            import_textual,
        ),
        Figure(
            "symphony TUI first paint",
            symphony_paint,
            "ms",
            "minimal Textual app first paint",
            minimal_paint,
        ),
    ]


if __name__ == "__main__":
    print_table(f"start-up (median of {RUNS} runs)", run())
