"""Terminal throughput: PTY + emulator next to tmux on the same streams, and pyte (SPEC §3.9).

Streams (written to a temporary folder): 20 MB of log-like lines, 20 MB of the same with SGR
16/256 colours every few words, and 5 MB of ``y`` lines (the worst case: a scroll per 2 bytes).
Each is ``cat`` into a 200x50 terminal:

* ours: :class:`PtySession` running ``cat FILE``, timed from start until the program exited and
  the last byte was fed to the emulator;
* tmux: a detached 200x50 session running ``cat FILE; tmux wait -S done``, timed until the
  channel is signalled (tmux parses everything it shows, so this includes its parse);
* parse only: :class:`AvtEmulator` fed the file in 64 KiB chunks, no PTY;
* pyte (``ByteStream`` on a plain ``Screen``, no history): a 2 MB prefix only, its rate
  extrapolated to the whole stream — at about 1 MB/s the full 20 MB would take 20 s.

Plus the cost of reading the screen (``lines()`` of 200x50) after a full redraw and after one
changed row, next to ``tmux capture-pane -p -e`` of the same screen (which includes starting
the tmux client). Throughput figures are MB/s (higher is better); each is the best of a few
runs. Run with ``python -m bench.bench_terminal``. Nothing here fails on timing.
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Figure, print_table
from engine.terminal.emulator import AvtEmulator
from engine.terminal.session import PtySession

COLS, ROWS = 200, 50
STREAM_BYTES = 20_000_000
SHORT_LINES_BYTES = 5_000_000
PYTE_PREFIX = 2_000_000
RUNS = 3
CHUNK = 64 * 1024
TITLE = f"terminal ({COLS}x{ROWS}; MB/s best of {RUNS} runs)"

_WORDS = [
    *("request", "handled", "user", "session", "cache", "miss", "hit", "worker", "queue"),
    *("retry", "timeout", "payload", "commit", "build", "compile", "link", "test"),
    *("passed", "failed", "warning", "error", "info", "debug", "module"),
]
_LEVELS = ("INFO ", "DEBUG", "WARN ", "ERROR")


def _log_lines(rng: random.Random, colour: bool) -> list[bytes]:
    """A thousand distinct log lines (~100 bytes), cycled to make a stream."""
    lines = []
    for n in range(1000):
        words = [rng.choice(_WORDS) for _ in range(rng.randrange(6, 12))]
        if colour:
            for i in range(0, len(words), 3):
                if rng.random() < 0.5:
                    words[i] = (
                        f"\x1b[{rng.choice((31, 32, 33, 34, 35, 36, 91, 92))}m{words[i]}\x1b[0m"
                    )
                else:
                    words[i] = f"\x1b[38;5;{rng.randrange(256)}m{words[i]}\x1b[39m"
        stamp = f"2024-05-01 12:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}"
        level = rng.choice(_LEVELS)
        lines.append(f"{stamp} {level} [worker-{n % 8}] {' '.join(words)} id={n}\n".encode())
    return lines


def _write_stream(path: Path, lines: list[bytes], size: int) -> None:
    block = b"".join(lines)
    data = block * (size // len(block) + 1)
    path.write_bytes(data[:size])


def _ours(path: Path) -> float:
    """MB/s of ``cat FILE`` through a PTY into the emulator."""
    session = PtySession(["cat", str(path)], cwd=path.parent, cols=COLS, rows=ROWS)
    start = time.perf_counter()
    with session:
        session.wait()
        elapsed = time.perf_counter() - start
    return path.stat().st_size / elapsed / 1e6


def _tmux(path: Path, folder: Path, number: int) -> float:
    """MB/s of ``cat FILE`` in a detached tmux pane, until tmux signals the end."""
    socket = folder / "bench.sock"
    config = folder / "tmux.conf"
    config.write_text("set -g status off\nset -g history-limit 10000\n")
    tmux = ["tmux", "-S", str(socket), "-f", str(config)]
    command = f"cat {path}; tmux wait-for -S done{number}"
    start = time.perf_counter()
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), command], check=True
    )
    subprocess.run([*tmux, "wait-for", f"done{number}"], check=True, timeout=120)
    elapsed = time.perf_counter() - start
    subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    return path.stat().st_size / elapsed / 1e6


def _parse_only(data: bytes) -> float:
    """MB/s of feeding the emulator 64 KiB chunks, no PTY."""
    emulator = AvtEmulator(COLS, ROWS)
    feed = emulator.feed
    start = time.perf_counter()
    for offset in range(0, len(data), CHUNK):
        feed(data[offset : offset + CHUNK])
    return len(data) / (time.perf_counter() - start) / 1e6


def _pyte(data: bytes) -> float:
    """MB/s of pyte on ``data`` (a prefix of a stream)."""
    import pyte

    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    start = time.perf_counter()
    for offset in range(0, len(data), CHUNK):
        stream.feed(data[offset : offset + CHUNK])
    return len(data) / (time.perf_counter() - start) / 1e6


def _screen_reads(data: bytes) -> tuple[float, float]:
    """Median ms of ``lines()`` after every row changed, and after one row changed."""
    emulator = AvtEmulator(COLS, ROWS)
    emulator.feed(data[-(2 * CHUNK) :].replace(b"\n", b"\r\n"))
    full, one_row = [], []
    for n in range(30):
        emulator.feed(b"\x1b[H\x1b[%dL" % ROWS)  # scroll everything: every row changes
        emulator.feed(data[n * 16384 : n * 16384 + 16384].replace(b"\n", b"\r\n"))
        start = time.perf_counter()
        emulator.lines()
        full.append((time.perf_counter() - start) * 1000)
        emulator.feed(b"x")  # a keystroke's echo
        start = time.perf_counter()
        emulator.lines()
        one_row.append((time.perf_counter() - start) * 1000)
    return statistics.median(full), statistics.median(one_row)


def _tmux_capture(path: Path, folder: Path) -> float:
    """Median ms of ``tmux capture-pane -p -e`` of a 200x50 pane showing a coloured stream."""
    socket = folder / "capture.sock"
    config = folder / "tmux.conf"
    tmux = ["tmux", "-S", str(socket), "-f", str(config)]
    head = folder / "head.bin"
    head.write_bytes(path.read_bytes()[:CHUNK])
    command = f"cat {head}; tmux wait-for -S shown; exec sleep 600"
    subprocess.run([*tmux, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), command])
    subprocess.run([*tmux, "wait-for", "shown"], check=True, timeout=60)
    samples = []
    for _ in range(15):
        start = time.perf_counter()
        subprocess.run([*tmux, "capture-pane", "-p", "-e"], check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    return statistics.median(samples)


def run() -> list[Figure]:
    """Measure the terminal engine, tmux and pyte on the same streams; return the figures.

    Without tmux, pyte becomes the throughput baseline and the screen reads are compared with
    each other.
    """
    has_tmux = shutil.which("tmux") is not None
    rng = random.Random(7)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="symphony-bench-term-") as tmp:
        folder = Path(tmp)
        plain, coloured, short = folder / "plain.log", folder / "coloured.log", folder / "y.log"
        _write_stream(plain, _log_lines(rng, colour=False), STREAM_BYTES)
        _write_stream(coloured, _log_lines(rng, colour=True), STREAM_BYTES)
        _write_stream(short, [b"y\n"], SHORT_LINES_BYTES)
        numbers = iter(range(1000))

        def baseline(path: Path, data: bytes) -> tuple[str, float]:
            if has_tmux:
                return "tmux", max(_tmux(path, folder, next(numbers)) for _ in range(RUNS))
            return "pyte (no tmux here)", _pyte(data[:PYTE_PREFIX])

        for label, path in (("20 MB plain", plain), ("20 MB coloured", coloured)):
            data = path.read_bytes()
            ours = max(_ours(path) for _ in range(RUNS))
            name, theirs = baseline(path, data)
            parse = max(_parse_only(data) for _ in range(RUNS))
            figures += [
                Figure(f"PTY+emulator, {label}", ours, "MB/s", name, theirs, False),
                Figure(f"emulator parse only, {label}", parse, "MB/s", name, theirs, False),
            ]
            if has_tmux:
                pyte_rate = _pyte(data[:PYTE_PREFIX])
                figures.append(
                    Figure(f"pyte, {label} (2 MB prefix)", pyte_rate, "MB/s", name, theirs, False)
                )
        ours = max(_ours(short) for _ in range(RUNS))
        name, theirs = baseline(short, short.read_bytes())
        figures.append(Figure("PTY+emulator, 5 MB 'y' lines", ours, "MB/s", name, theirs, False))

        full, one_row = _screen_reads(coloured.read_bytes()[: 2 * 1024 * 1024])
        if has_tmux:
            capture = _tmux_capture(coloured, folder)
            figures += [
                Figure("read 200x50 screen, all rows new", full, "ms", "tmux capture -e", capture),
                Figure(
                    "read 200x50 screen, one row new", one_row, "ms", "tmux capture -e", capture
                ),
            ]
        else:
            figures.append(
                Figure("read 200x50 screen, one row new", one_row, "ms", "all rows new", full)
            )
    return figures


if __name__ == "__main__":
    print_table(TITLE, run())
