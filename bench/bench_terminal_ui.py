"""The Terminal widget: keystroke-to-screen latency (idle and during a flood), throughput with the
UI attached, and the cost of drawing a frame (SPEC §3.9, §7).

Each figure has a baseline from the same run:

* **Keystroke → screen.** A headless Textual app (run with Pilot) shows two terminals side by
  side, each running ``/bin/sh``. A key event is posted to the app and the clock stops when the
  compositor asks the widget for the cursor row and the typed character is in it, i.e. the
  frame that shows the echo has been composed (only the final write of that frame to a real
  terminal is missing: the app is headless). Measured with nothing else running ("idle") and
  while the *other* terminal, also on screen, runs ``cat`` of a 4 MB coloured log in a loop
  ("flood"): the realistic case of typing in one terminal while a build scrolls in another,
  with the flood competing for the UI thread, the GIL and both cores. (Typing into the flooding
  terminal itself measures nothing useful: the echo queues behind the flood's output in the
  kernel's PTY buffer and scrolls away within a frame.) Baseline: the same keystroke through
  :class:`PtySession` alone, polling its screen, i.e. PTY echo plus emulator without any UI.
* **Throughput with the UI.** ``cat`` of a 10 MB coloured log in a visible 200x50 widget until
  the widget has drawn the exit, next to the same ``cat`` in a bare :class:`PtySession`.
* **Frame.** ``render_line`` for every row of a 200x50 screen of coloured log lines, with the
  strip cache empty (every row changed, as in a flood) and full (nothing changed), next to
  Rich's ``Console.render_lines`` of the same text (a Rich ``Text``, parsed beforehand).

Run with ``python -m bench.bench_terminal_ui``. Takes about 10 s. Nothing here fails on timing.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.strip import Strip

from bench.common import Figure, percentile, print_table
from engine.terminal.session import PtySession
from symphony_tui.widgets.terminal import Terminal

TITLE = "terminal widget (headless Textual app)"
SAMPLES = 40
COLS, ROWS = 200, 50
FLOOD_BYTES = 4_000_000
THROUGHPUT_BYTES = 10_000_000
SHELL_ENV = {**os.environ, "PS1": "$ ", "ENV": "", "SHELL": "/bin/sh"}
_KEYS = "abcdefghijklmnopqrstuvwxyz"


def _coloured_log(path: Path, size: int) -> None:
    rng = random.Random(7)
    words = ["request", "handled", "cache", "miss", "worker", "queue", "retry", "build", "test"]
    lines = []
    for n in range(500):
        parts = [
            f"\x1b[{rng.choice((31, 32, 33, 34, 35, 36))}m{w}\x1b[0m" if rng.random() < 0.3 else w
            for w in rng.choices(words, k=rng.randrange(8, 16))
        ]
        lines.append(f"2024-05-01 12:00:{n % 60:02d} INFO [w{n % 8}] {' '.join(parts)}\n")
    block = "".join(lines).encode()
    path.write_bytes((block * (size // len(block) + 1))[:size])


def _text(terminal: Terminal) -> list[str]:
    return terminal.snapshot.text() if terminal.snapshot is not None else [""]


class ProbedTerminal(Terminal):
    """Records when a composed frame first shows the expected text at the end of a row."""

    expected: str | None = None
    seen_at: float | None = None

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        expected = self.expected
        if expected is not None and self.seen_at is None and strip.text.rstrip().endswith(expected):
            self.seen_at = time.perf_counter()
        return strip


class TwoTerminals(App[None]):
    CSS = "Terminal { width: 1fr; }"

    def __init__(self, folder: Path, flood_file: Path) -> None:
        super().__init__()
        self.folder = folder
        self.flood_file = flood_file

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ProbedTerminal(cwd=self.folder, env=SHELL_ENV, id="typed")
            yield ProbedTerminal(cwd=self.folder, env=SHELL_ENV, id="flood")


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the terminal never got there")
        await asyncio.sleep(0.001)


async def _keystrokes(app: TwoTerminals, terminal: ProbedTerminal) -> list[float]:
    """Milliseconds from posting each key until a composed frame shows its echo."""
    from textual import events

    samples: list[float] = []
    typed = ""
    for n in range(SAMPLES):
        key = _KEYS[n % len(_KEYS)]
        typed += key
        terminal.expected, terminal.seen_at = "$ " + typed, None
        start = time.perf_counter()
        app.post_message(events.Key(key, key))
        await _until(lambda: terminal.seen_at is not None)
        assert terminal.seen_at is not None
        samples.append((terminal.seen_at - start) * 1000)
        await asyncio.sleep(random.uniform(0.04, 0.12))  # a fast typist, not in phase with frames
        if len(typed) >= 40:
            app.post_message(events.Key("ctrl+u", "\x15"))
            typed = ""
            await asyncio.sleep(0.05)
    terminal.expected = None
    return samples


async def _latencies(folder: Path, flood_file: Path) -> tuple[list[float], list[float]]:
    app = TwoTerminals(folder, flood_file)
    async with app.run_test(size=(160, ROWS)) as pilot:
        typed = app.query_one("#typed", ProbedTerminal)
        flood = app.query_one("#flood", ProbedTerminal)
        await _until(lambda: "$" in _text(typed)[0])
        await _until(lambda: "$" in _text(flood)[0])
        typed.focus()
        await pilot.pause()
        idle = await _keystrokes(app, typed)
        assert flood.session is not None
        flood.session.write(f"while :; do cat {flood_file}; done\r")
        await asyncio.sleep(0.5)
        before = flood.session.bytes_read
        flooded = await _keystrokes(app, typed)
        assert flood.session.bytes_read - before > FLOOD_BYTES, "the flood did not run"
        flood.session.write(b"\x03")
    return idle, flooded


def _engine_latency(folder: Path) -> list[float]:
    samples: list[float] = []
    with PtySession(["/bin/sh"], cwd=folder, env=SHELL_ENV, cols=80, rows=ROWS) as session:
        deadline = time.monotonic() + 10
        while "$" not in session.text()[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        typed = ""
        for n in range(SAMPLES):
            typed += _KEYS[n % len(_KEYS)]
            start = time.perf_counter()
            session.write(typed[-1])
            while not session.text()[0].endswith(typed):
                time.sleep(0.0002)
            samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)
    return samples


class OneTerminal(App[None]):
    def __init__(self, argv: list[str], folder: Path) -> None:
        super().__init__()
        self.argv = argv
        self.folder = folder

    def compose(self) -> ComposeResult:
        yield Terminal(self.argv, cwd=self.folder, env=SHELL_ENV)


async def _ui_throughput(path: Path) -> float:
    app = OneTerminal(["cat", str(path)], path.parent)
    async with app.run_test(size=(COLS, ROWS)) as pilot:
        terminal = app.query_one(Terminal)
        start = time.perf_counter()
        await _until(lambda: terminal.session is not None)
        await _until(lambda: terminal.snapshot is not None and not terminal.alive, 120)
        await pilot.pause()  # the frame with the exit line
        elapsed = time.perf_counter() - start
    return path.stat().st_size / elapsed / 1e6


def _bare_throughput(path: Path) -> float:
    start = time.perf_counter()
    with PtySession(["cat", str(path)], cwd=path.parent, cols=COLS, rows=ROWS) as session:
        session.wait()
    return path.stat().st_size / (time.perf_counter() - start) / 1e6


async def _frame_times(path: Path) -> tuple[float, float, float]:
    """Median ms to render all rows cold and warm, and Rich's render_lines of the same text."""
    lines = path.read_bytes()[:200_000].decode().splitlines()[: ROWS - 1]
    shown = "\n".join(lines)
    app = OneTerminal(["sh", "-c", f"cat {path.parent / 'frame.txt'}; exec sleep 60"], path.parent)
    (path.parent / "frame.txt").write_text(shown + "\n")
    cold: list[float] = []
    warm: list[float] = []
    async with app.run_test(size=(COLS, ROWS)):
        terminal = app.query_one(Terminal)
        await _until(
            lambda: terminal.snapshot is not None and "INFO" in terminal.snapshot.text()[-2]
        )
        height = terminal.size.height
        for _ in range(30):
            terminal._strips = [None] * height
            start = time.perf_counter()
            for y in range(height):
                terminal.render_line(y)
            cold.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            for y in range(height):
                terminal.render_line(y)
            warm.append((time.perf_counter() - start) * 1000)
    console = Console(width=COLS, height=ROWS, color_system="truecolor", file=io.StringIO())
    text = Text.from_ansi(shown)
    options = console.options.update(width=COLS, height=ROWS)
    rich: list[float] = []
    for _ in range(30):
        start = time.perf_counter()
        console.render_lines(text, options, pad=True)
        rich.append((time.perf_counter() - start) * 1000)
    return statistics.median(cold), statistics.median(warm), statistics.median(rich)


def run() -> list[Figure]:
    """Measure and return the figures (nothing is printed)."""
    with tempfile.TemporaryDirectory(prefix="symphony-bench-ui-") as name:
        folder = Path(name)
        flood_file = folder / "flood.log"
        big = folder / "big.log"
        _coloured_log(flood_file, FLOOD_BYTES)
        _coloured_log(big, THROUGHPUT_BYTES)
        engine = _engine_latency(folder)
        idle, flooded = asyncio.run(_latencies(folder, flood_file))
        with_ui = max(asyncio.run(_ui_throughput(big)) for _ in range(2))
        bare = max(_bare_throughput(big) for _ in range(2))
        cold, warm, rich = asyncio.run(_frame_times(big))
    engine_p50, idle_p50 = percentile(engine, 50), percentile(idle, 50)
    no_ui, ms = "PTY echo, no UI p50", "ms"
    return [
        Figure("key → frame p50, idle", idle_p50, ms, no_ui, engine_p50),
        Figure("key → frame p95, idle", percentile(idle, 95), ms, no_ui, engine_p50),
        Figure(
            "key → frame p50, other terminal floods",
            percentile(flooded, 50),
            ms,
            "idle p50",
            idle_p50,
        ),
        Figure(
            "key → frame p95, other terminal floods",
            percentile(flooded, 95),
            ms,
            "idle p50",
            idle_p50,
        ),
        Figure(
            "cat 10 MB coloured, widget shown", with_ui, "MB/s", "PtySession alone", bare, False
        ),
        Figure("draw 200x50 frame, every row new", cold, ms, "Rich render_lines", rich),
        Figure("draw 200x50 frame, nothing new", warm, ms, "Rich render_lines", rich),
    ]


if __name__ == "__main__":
    print_table(TITLE, run())
