"""The editor: opening a 10 MB Python file and keystroke-to-repaint in it (SPEC §5, §7).

* **Open.** :meth:`MainScreen.open_file` on a 10 MB Python file inside the real app (run
  headless with Pilot), until the editor's first frame has been drawn: the TextArea has the
  document (parsed by tree-sitter for highlighting) and the compositor has asked it for its
  visible lines. Baseline: reading the same file and ``str.splitlines()``, the least any editor
  has to do.
* **Keystroke → repaint.** A key event is posted to the app and the clock stops when the
  compositor renders the cursor's line with the typed character in it, in the 10 MB file;
  baseline: the same in a 1 KB Python file.

Files over ``SYNTAX_LIMIT`` (2 MB) are edited without highlighting: Textual re-parses the whole
document through a Python read callback on every edit. The 2 MB figures show the cost just
under that limit, highlighted.

Run with ``python -m bench.bench_editor``. Takes about 30 s. Nothing here fails on timing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from textual import events
from textual.strip import Strip

from bench.common import Figure, print_table
from symphony_tui.app import SymphonyApp
from symphony_tui.widgets import editor as editor_module
from symphony_tui.widgets.editor import CodeArea

TITLE = "editor (10 MB Python file)"
SIZE = 10 * 1024 * 1024
KEYSTROKES = 30

_BLOCK = '''

class Widget{n}:
    """A class with a docstring and a few methods."""

    def __init__(self, value: int = {n}) -> None:
        self.value = value  # remember it
        self.items: list[str] = ["a", "b", "c"]

    def total(self) -> int:
        return sum(len(item) for item in self.items) + self.value
'''


def _python_file(path: Path, size: int) -> None:
    parts: list[str] = ['"""Generated for the editor benchmark."""\n']
    total, n = 0, 0
    while total < size:
        block = _BLOCK.format(n=n)
        parts.append(block)
        total += len(block)
        n += 1
    path.write_text("".join(parts))


class ProbedArea(CodeArea):
    """Records when a rendered line first contains ``marker``, and when anything is drawn."""

    marker = ""
    seen_at = 0.0
    painted_at = 0.0

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not self.painted_at:
            self.painted_at = time.perf_counter()
        if self.marker and not self.seen_at and self.marker in strip.text:
            self.seen_at = time.perf_counter()
        return strip


async def _until(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.0005)


async def _measure(workspace: Path, name: str) -> tuple[float, list[float]]:
    """Seconds to open ``name`` until first paint, and keystroke-to-repaint latencies."""
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.main_screen
        assert screen is not None
        await pilot.pause(0.5)
        start = time.perf_counter()
        editor = await screen.open_file(workspace / name)
        assert editor is not None and isinstance(editor.area, ProbedArea)
        area = editor.area
        await _until(lambda: area.painted_at)
        opened = area.painted_at - start
        await pilot.pause(0.3)
        latencies: list[float] = []
        for i in range(KEYSTROKES):
            char = "qwertyuiopasdfghjklzxcvbnm"[i % 26]
            area.marker = (
                area.document.get_line(area.cursor_location[0])[: area.cursor_location[1]] + char
            )
            area.seen_at = 0.0
            start = time.perf_counter()
            app.post_message(events.Key(char, char))
            await _until(lambda: area.seen_at)
            latencies.append(area.seen_at - start)
            await asyncio.sleep(0.02)
        return opened, latencies


def run() -> list[Figure]:
    """Measure and return the figures."""
    original = editor_module.CodeArea
    editor_module.CodeArea = ProbedArea  # type: ignore[misc]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp)
            _python_file(ws / "big.py", SIZE)
            _python_file(ws / "small.py", 1024)
            _python_file(ws / "mid.py", editor_module.SYNTAX_LIMIT - 1024)
            start = time.perf_counter()
            lines = (ws / "big.py").read_text().splitlines()
            baseline_open = time.perf_counter() - start
            assert lines
            opened, big_keys = asyncio.run(_measure(ws, "big.py"))
            _, small_keys = asyncio.run(_measure(ws, "small.py"))
            mid_open, mid_keys = asyncio.run(_measure(ws, "mid.py"))
    finally:
        editor_module.CodeArea = original  # type: ignore[misc]
    return [
        Figure("open 10 MB .py to first paint", opened * 1e3, "ms",
               "read + splitlines", baseline_open * 1e3),
        Figure("keystroke → repaint, 10 MB (median)", statistics.median(big_keys) * 1e3, "ms",
               "same in a 1 KB file", statistics.median(small_keys) * 1e3),
        Figure("keystroke → repaint, 10 MB (max)", max(big_keys) * 1e3, "ms",
               "same in a 1 KB file", max(small_keys) * 1e3),
        Figure("open 2 MB .py, highlighted", mid_open * 1e3, "ms",
               "open 10 MB .py (plain)", opened * 1e3),
        Figure("keystroke → repaint, 2 MB highlighted (median)",
               statistics.median(mid_keys) * 1e3, "ms",
               "same in a 1 KB file", statistics.median(small_keys) * 1e3),
    ]  # fmt: skip


if __name__ == "__main__":
    print_table(TITLE, run())
