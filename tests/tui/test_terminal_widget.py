"""Terminals in the workspace, driven with Pilot: a real /bin/sh in a real PTY behind each one.

Every test reads the screen twice over where it matters: through the session's snapshot (what
the emulator holds) and through the strips the widget renders (what the user sees).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from rich.color import Color
from textual import events
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from engine.terminal import Modes, Style
from symphony_tui.app import SymphonyApp
from symphony_tui.screens.main import MainScreen
from symphony_tui.widgets.terminal import Terminal
from tests.tui.helpers import palette_choose, wait_for

pytestmark = pytest.mark.usefixtures("plain_shell")

SIZE = (100, 30)


def make_app(workspace: Path) -> SymphonyApp:
    return SymphonyApp(workspace, watch_config=False)


def screen_of(app: SymphonyApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def rendered(terminal: Terminal) -> list[str]:
    """What the widget draws, row by row, trailing spaces stripped."""
    return [terminal.render_line(y).text.rstrip() for y in range(terminal.size.height)]


def emulated(terminal: Terminal) -> list[str]:
    assert terminal.session is not None
    return terminal.session.snapshot().text()


async def open_terminal(pilot: Pilot[Any], app: SymphonyApp) -> Terminal:
    before = len(app.screen.query(Terminal))
    if isinstance(app.focused, Terminal):
        await pilot.press("ctrl+g")  # inside a terminal, ctrl+n is the shell's
    await pilot.press("ctrl+n")
    # The new terminal is in the DOM before it has the focus.
    await wait_for(
        pilot,
        lambda: (
            len(app.screen.query(Terminal)) > before
            and app.focused is app.screen.query(Terminal).last()
        ),
    )
    terminal = app.focused
    assert isinstance(terminal, Terminal)
    await wait_for(pilot, lambda: "$" in rendered(terminal))
    return terminal


async def run(pilot: Pilot[Any], command: str) -> None:
    await pilot.press(*command, "enter")


def modes(terminal: Terminal) -> Modes:
    assert terminal.snapshot is not None
    return terminal.snapshot.modes


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_typed_command_output_is_emulated_and_rendered(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        assert app.focused is terminal
        tabs = app.screen.query_one("#main-tabs", TabbedContent)
        assert str(tabs.get_tab(tabs.active).label) == "Terminal 1"
        await run(pilot, "echo hello; pwd")
        await wait_for(pilot, lambda: "hello" in rendered(terminal))
        assert emulated(terminal)[:3] == ["$ echo hello; pwd", "hello", str(workspace)]
        assert rendered(terminal)[:3] == ["$ echo hello; pwd", "hello", str(workspace)]
        width = terminal.size.width
        assert all(terminal.render_line(y).cell_length == width for y in range(5))


async def test_ctrl_c_interrupts_the_program_and_does_not_quit(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, "sleep 10; echo finished")
        await wait_for(pilot, lambda: rendered(terminal)[1] == "")
        await pilot.pause(0.3)
        started = time.monotonic()
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: rendered(terminal)[1:3] == ["^C", "$"])
        assert time.monotonic() - started < 5
        assert "finished" not in emulated(terminal)
        assert app.is_running and terminal.alive
        assert len(app._notifications) == 0  # no "press ctrl+q to quit" reminder either
        await run(pilot, "echo still here")
        await wait_for(pilot, lambda: "still here" in rendered(terminal))


async def test_resizing_the_app_resizes_the_pty(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        width, height = terminal.size
        await run(pilot, "stty size")
        await wait_for(pilot, lambda: f"{height} {width}" in rendered(terminal))
        await pilot.resize_terminal(130, 40)
        await wait_for(pilot, lambda: terminal.size.width > width)
        width, height = terminal.size
        await run(pilot, "clear; stty size")
        await wait_for(pilot, lambda: rendered(terminal)[0] == f"{height} {width}")
        assert emulated(terminal)[0] == f"{height} {width}"


async def test_colours_become_rich_styles(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, r"printf '\033[31mred\033[0m plain \033[1;44mboldblue\033[0m\n'")
        await wait_for(pilot, lambda: "red plain boldblue" in rendered(terminal))
        y = rendered(terminal).index("red plain boldblue")
        assert terminal.snapshot is not None
        assert terminal.snapshot.lines[y][0].style == Style(fg="color(1)")
        segments = {s.text.strip(): s.style for s in terminal.render_line(y) if s.text.strip()}
        red, plain, bold = segments["red"], segments["plain"], segments["boldblue"]
        assert red is not None and red.color == Color.parse("color(1)")
        assert plain is not None and plain.color == terminal.visual_style.rich_style.color
        assert bold is not None and bold.bold and bold.bgcolor == Color.parse("color(4)")


async def test_exit_status_is_shown_and_enter_restarts(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        assert terminal.session is not None
        first_pid = terminal.session.pid
        await run(pilot, "exit 3")
        await wait_for(pilot, lambda: not terminal.alive)
        await wait_for(pilot, lambda: any("status 3" in row for row in rendered(terminal)))
        rows = rendered(terminal)
        notice = next(i for i, row in enumerate(rows) if "status 3" in row)
        assert rows[notice - 1] == "$ exit 3"  # right below the last output
        assert "press enter to restart" in "".join(rows[notice:])
        await pilot.press("enter")
        await wait_for(pilot, lambda: terminal.alive and rendered(terminal)[0].startswith("$"))
        assert terminal.session is not None and terminal.session.pid != first_pid
        assert not any("status 3" in row for row in rendered(terminal))
        assert first_pid is not None and process_gone(first_pid)


async def test_ctrl_w_closes_an_exited_terminal_tab(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, "exit")
        await wait_for(pilot, lambda: any("status 0" in row for row in rendered(terminal)))
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: not app.screen.query(Terminal))
        assert app.screen.query_one("#main-tabs", TabbedContent).active == "tab-welcome"


async def test_ctrl_g_leaves_the_terminal(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: app.focused is not None and app.focused is not terminal)
        await pilot.press("x", "y")
        await pilot.pause(0.3)
        assert rendered(terminal)[0] == "$"  # the keys went elsewhere
        footer_keys = {b.binding.key for b in app.screen.active_bindings.values()}
        assert "ctrl+g" not in footer_keys
        assert "ctrl+b" in footer_keys
        terminal.focus()
        await pilot.pause()
        # The footer lists only what works in a terminal: the rest is the shell's.
        footer_keys = {b.binding.key for b in app.screen.active_bindings.values()}
        assert {"ctrl+g", "ctrl+j", "ctrl+q", "ctrl+p"} <= footer_keys
        assert not {"ctrl+b", "ctrl+w", "ctrl+n", "ctrl+t"} & footer_keys


async def test_paste_is_bracketed_when_the_program_asks(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, r"printf '\033[?2004h'; cat -v")
        await wait_for(
            pilot, lambda: terminal.snapshot is not None and terminal.snapshot.modes.bracketed_paste
        )
        app.post_message(events.Paste("pasted\x1btext"))
        await pilot.press("enter")
        # The tty echoes the line, then cat -v prints it: both show the markers, not the ESC.
        line = "^[[200~pastedtext^[[201~"
        await wait_for(pilot, lambda: rendered(terminal).count(line) == 2)
        await pilot.press("ctrl+c")


async def test_scrollback_with_keys_and_wheel_then_typing_returns_to_the_bottom(
    workspace: Path,
) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, "seq 1 300")
        await wait_for(pilot, lambda: "300" in rendered(terminal))
        live = rendered(terminal)
        await pilot.press("shift+pageup")
        page = terminal.size.height - 1
        await wait_for(pilot, lambda: terminal.scrollback_offset == page)
        history = terminal.snapshot.scrollback_len if terminal.snapshot else 0
        assert rendered(terminal)[0].endswith(f"[{page}/{history}]")
        assert rendered(terminal)[-1] == live[-1 - page]
        terminal.post_message(events.MouseScrollUp(terminal, 1, 1, 0, -1, 0, False, False, False))
        await wait_for(pilot, lambda: terminal.scrollback_offset == page + 3)
        assert emulated(terminal) == live  # the program's screen did not move
        await pilot.press("shift+pagedown")
        await pilot.pause()
        assert terminal.scrollback_offset == 3
        await pilot.press("e")
        await pilot.pause()
        assert terminal.scrollback_offset == 0
        assert "[" not in rendered(terminal)[0]
        await wait_for(pilot, lambda: rendered(terminal)[-1] == "$ e")


async def test_scrolled_back_view_stays_put_while_output_continues(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, "seq 1 300; sleep 1; seq 1001 1010")
        await wait_for(pilot, lambda: "300" in rendered(terminal))
        await pilot.press("shift+pageup")
        await pilot.pause()
        shown, offset = rendered(terminal)[1:], terminal.scrollback_offset
        await wait_for(pilot, lambda: "1010" in emulated(terminal))
        # The widget catches up with the emulator when it handles the I/O thread's message.
        await wait_for(
            pilot,
            lambda: terminal.snapshot is not None and "1010" in "\n".join(terminal.snapshot.text()),
        )
        assert rendered(terminal)[1:] == shown
        assert terminal.scrollback_offset == offset + 10


async def test_wheel_on_the_alternate_screen_sends_arrow_keys(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, r"printf '\033[?1049h'; cat -v")
        await wait_for(
            pilot, lambda: terminal.snapshot is not None and terminal.snapshot.modes.alt_screen
        )
        terminal.post_message(events.MouseScrollDown(terminal, 1, 1, 0, 1, 0, False, False, False))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "^[[B^[[B^[[B" in rendered(terminal))
        assert terminal.scrollback_offset == 0
        await pilot.press("ctrl+c")


async def test_title_names_the_tab(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        await run(pilot, r"printf '\033]0;building docs\007'")
        await wait_for(pilot, lambda: terminal.terminal_title == "building docs")
        tabs = app.screen.query_one("#main-tabs", TabbedContent)
        await wait_for(pilot, lambda: str(tabs.get_tab(tabs.active).label) == "1: building docs")


async def test_bottom_panel_toggles_with_its_own_terminal(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_terminal(pilot, app)
        screen = screen_of(app)
        panel = screen.query_one("#panel")
        assert not panel.display
        await pilot.press("ctrl+j")  # leaves the main terminal's shell alone
        await wait_for(pilot, lambda: screen.panel_terminal is not None)
        shell = screen.panel_terminal
        assert shell is not None and panel.display and app.focused is shell
        await wait_for(pilot, lambda: "$" in rendered(shell))
        await run(pilot, "echo in the panel")
        await wait_for(pilot, lambda: "in the panel" in rendered(shell))
        assert "in the panel" not in "\n".join(rendered(main))
        await pilot.press("ctrl+j")
        await pilot.pause()
        assert not panel.display and app.focused is main
        assert shell.alive  # hidden, not closed
        await pilot.press("ctrl+j")
        await pilot.pause()
        assert screen.panel_terminal is shell and app.focused is shell
        assert "in the panel" in rendered(shell)


async def test_closing_a_terminal_tab_ends_its_program(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        terminal = await open_terminal(pilot, app)
        assert terminal.session is not None and terminal.session.pid is not None
        pid = terminal.session.pid
        await pilot.press("ctrl+g", "ctrl+w")
        await wait_for(pilot, lambda: not app.screen.query(Terminal))
        await wait_for(pilot, lambda: process_gone(pid))


async def test_quitting_ends_every_terminal(workspace: Path) -> None:
    app = make_app(workspace)
    pids: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):
            terminal = await open_terminal(pilot, app)
            assert terminal.session is not None and terminal.session.pid is not None
            pids.append(terminal.session.pid)
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen_of(app).panel_terminal is not None)
        shell = screen_of(app).panel_terminal
        assert shell is not None
        await wait_for(pilot, lambda: shell.alive)
        assert shell.session is not None and shell.session.pid is not None
        pids.append(shell.session.pid)
        await pilot.press("ctrl+q")
    deadline = time.monotonic() + 10
    while not all(process_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, "a terminal's program outlived the app"
        time.sleep(0.05)


async def test_palette_opens_a_terminal(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await palette_choose(pilot, "new terminal")
        await wait_for(pilot, lambda: bool(app.screen.query(Terminal)))
        terminal = app.screen.query_one(Terminal)
        await wait_for(pilot, lambda: "$" in rendered(terminal))
        assert app.focused is terminal
