"""Selecting and copying text in a Terminal with the mouse, driven with Pilot.

Each test runs a real program in a real PTY inside a one-widget app that records what reaches
``copy_to_clipboard`` (Textual's own implementation still runs, so ``app.clipboard`` is checked
too). What the user sees is read back from the strips the widget renders: selected cells are
drawn in reverse video.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from symphony_tui.widgets.terminal import Terminal
from tests.tui.helpers import wait_for

SIZE = (40, 10)
HELLO = "printf 'hello world\\nsecond line\\n'; sleep 30"


class CopyApp(App[None]):
    """One terminal running ``script`` with /bin/sh; remembers every copy."""

    def __init__(self, script: str, cwd: Path) -> None:
        super().__init__()
        self.script = script
        self.cwd = cwd
        self.copied: list[str] = []

    def compose(self) -> ComposeResult:
        yield Terminal(["/bin/sh", "-c", self.script], cwd=self.cwd)

    def copy_to_clipboard(self, text: str) -> None:
        self.copied.append(text)
        super().copy_to_clipboard(text)


def rendered(terminal: Terminal) -> list[str]:
    return [terminal.render_line(y).text.rstrip() for y in range(terminal.size.height)]


def highlighted(terminal: Terminal, y: int) -> str:
    """The text of row ``y`` drawn in reverse video (the cursor's cell included)."""
    strip = terminal.render_line(y)
    return "".join(s.text for s in strip if s.style is not None and s.style.reverse).rstrip()


async def start(pilot: Pilot[Any], expect: str) -> Terminal:
    terminal = pilot.app.query_one(Terminal)
    await wait_for(pilot, lambda: expect in "\n".join(rendered(terminal)))
    return terminal


async def drag(
    pilot: Pilot[Any],
    terminal: Terminal,
    start: tuple[int, int],
    end: tuple[int, int],
    *,
    shift: bool = False,
) -> None:
    await pilot.mouse_down(terminal, offset=start, shift=shift)
    await pilot.hover(terminal, offset=end)
    await pilot.mouse_up(terminal, offset=end, shift=shift)
    await pilot.pause()


async def test_drag_highlights_the_cells_and_release_copies(tmp_path: Path) -> None:
    app = CopyApp(HELLO, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "second line")
        await pilot.mouse_down(terminal, offset=(6, 0))
        await pilot.hover(terminal, offset=(5, 1))
        await pilot.pause()
        # While dragging: shown, not yet copied.
        assert highlighted(terminal, 0) == "world"
        assert highlighted(terminal, 1) == "second"
        assert app.copied == []
        await pilot.mouse_up(terminal, offset=(5, 1))
        await pilot.pause()
        assert app.copied == ["world\nsecond"]
        assert app.clipboard == "world\nsecond"
        # The selection stays on screen after the copy, the rest of the row is not reversed.
        assert highlighted(terminal, 0) == "world"
        assert terminal.render_line(0).text.startswith("hello world")
        plain = [s for s in terminal.render_line(0) if s.text.strip() == "hello"]
        assert plain and not (plain[0].style and plain[0].style.reverse)


async def test_dragging_backwards_and_a_plain_click(tmp_path: Path) -> None:
    app = CopyApp(HELLO, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "second line")
        await drag(pilot, terminal, (10, 1), (7, 1))  # right to left, both ends included
        assert app.copied == ["line"]
        await drag(pilot, terminal, (3, 0), (3, 0))  # a click: clears, copies nothing
        assert app.copied == ["line"]
        assert highlighted(terminal, 1) == ""
        assert terminal.selected_text == ""


async def test_wide_characters_are_copied_once(tmp_path: Path) -> None:
    app = CopyApp("printf '日本語 text\\n'; sleep 30", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "text")
        # Cells 3-4: the right half of 本 and the left half of 語.
        await drag(pilot, terminal, (3, 0), (4, 0))
        assert app.copied == ["本語"]
        assert highlighted(terminal, 0) == "本語"  # whole characters, never half of one
        await drag(pilot, terminal, (0, 0), (39, 0))
        assert app.copied[-1] == "日本語 text"  # trailing blanks cut


async def test_ctrl_y_copies_a_selection_and_otherwise_reaches_the_program(
    tmp_path: Path,
) -> None:
    app = CopyApp("printf 'hello world\\n'; exec cat -v", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "hello world")
        assert app.focused is terminal
        await pilot.press("ctrl+y", "enter")  # nothing selected: the program's key
        await wait_for(pilot, lambda: rendered(terminal).count("^Y") == 2)  # echo, cat -v
        await drag(pilot, terminal, (0, 0), (4, 0))
        assert app.copied == ["hello"]
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.copied == ["hello", "hello"]
        assert highlighted(terminal, 0) == "" and terminal.selected_text == ""
        # A key sent to the program ends the selection; ctrl+y reached cat only once.
        await drag(pilot, terminal, (6, 0), (10, 0))
        assert highlighted(terminal, 0) == "world"
        await pilot.press("a", "enter")
        await wait_for(pilot, lambda: rendered(terminal).count("a") == 2)
        assert highlighted(terminal, 0) == ""
        assert app.copied == ["hello", "hello", "world"]
        assert rendered(terminal).count("^Y") == 2


async def test_selecting_in_the_scrolled_back_history(tmp_path: Path) -> None:
    app = CopyApp("seq 1 100; sleep 30", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "100")
        terminal.scroll_history(50)
        await pilot.pause()
        rows = rendered(terminal)
        assert rows[2].isdigit() and rows[3].isdigit()
        await drag(pilot, terminal, (0, 2), (0, 3))
        expected = f"{rows[2]}\n{rows[3][0]}"
        assert app.copied == [expected]
        assert highlighted(terminal, 2) == rows[2]
        # Back at the live bottom the selection is out of sight but still the same text.
        terminal.scroll_history(-50)
        await pilot.pause()
        assert not any(highlighted(terminal, y) for y in range(terminal.size.height))
        await pilot.press("ctrl+y")
        assert app.copied == [expected, expected]


async def test_the_selection_follows_its_text_into_the_history(tmp_path: Path) -> None:
    script = "printf 'one\\ntwo\\n'; while [ ! -e go ]; do sleep 0.05; done; seq 1 20; sleep 30"
    app = CopyApp(script, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "two")
        await drag(pilot, terminal, (0, 1), (2, 1))
        assert app.copied == ["two"]
        (tmp_path / "go").touch()
        await wait_for(pilot, lambda: "20" in rendered(terminal))
        assert "two" not in rendered(terminal)  # scrolled away into the history
        assert terminal.selected_text == "two"
        terminal.scroll_history(terminal.snapshot.scrollback_len if terminal.snapshot else 0)
        await pilot.pause()
        assert highlighted(terminal, 1) == "two"  # still on its text


async def test_the_selection_ends_when_its_text_changes(tmp_path: Path) -> None:
    script = "printf 'one\\ntwo\\n'; while [ ! -e go ]; do sleep 0.05; done; printf '\\033[1;1Hzzz'"
    app = CopyApp(script + "; sleep 30", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "two")
        await drag(pilot, terminal, (0, 0), (2, 0))
        assert terminal.selected_text == "one"
        (tmp_path / "go").touch()
        await wait_for(pilot, lambda: rendered(terminal)[0] == "zzz")
        assert terminal.selected_text == ""
        assert highlighted(terminal, 0) == ""


def reports(rows: Sequence[str]) -> list[str]:
    return [row for row in rows if row.startswith("^[[<")]


async def test_with_mouse_reporting_drags_go_to_the_program_and_shift_selects(
    tmp_path: Path,
) -> None:
    # 1002: button-event tracking (press, drag, release); 1006: SGR encoding.
    script = "printf 'hello world\\n\\033[?1002h\\033[?1006h'; exec cat -v"
    app = CopyApp(script, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await start(pilot, "hello world")
        await wait_for(pilot, lambda: bool(terminal.snapshot and terminal.snapshot.modes.mouse))
        await drag(pilot, terminal, (2, 0), (4, 0))
        await pilot.press("enter")
        line = "^[[<0;3;1M^[[<32;5;1M^[[<0;5;1m"  # press, drag, release (1-based cells)
        await wait_for(pilot, lambda: reports(rendered(terminal)) == [line, line])
        assert app.copied == [] and terminal.selected_text == ""
        await drag(pilot, terminal, (0, 0), (4, 0), shift=True)
        assert app.copied == ["hello"]
        assert highlighted(terminal, 0) == "hello"
        await pilot.press("enter")  # nothing was sent: cat gets an empty line
        await wait_for(pilot, lambda: bool(terminal.snapshot and terminal.snapshot.cursor.y == 5))
        assert reports(rendered(terminal)) == [line, line]
