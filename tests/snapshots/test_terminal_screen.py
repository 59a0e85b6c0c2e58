"""Snapshots of terminals in the workspace at 80x24 and 120x40.

The terminal tab runs a fixed command (not an interactive shell) so the screen is the same on
every run: styled text in the 16, 256 and truecolour palettes, attributes, a box and wide
characters. Update baselines with ``make snapshots`` only after looking at the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from symphony_tui.app import SymphonyApp
from symphony_tui.screens.main import MainScreen
from symphony_tui.widgets.terminal import Terminal
from tests.snapshots.test_main_screen import engine_healthy, make_workspace
from tests.tui.helpers import wait_for

SHOWCASE = r"""
printf '\033[1mSymphony terminal\033[0m\n'
printf '\033[31mred\033[0m \033[32mgreen\033[0m \033[33myellow\033[0m \033[34mblue\033[0m '
printf '\033[35mmagenta\033[0m \033[36mcyan\033[0m \033[90mgrey\033[0m\n'
printf '\033[41m  \033[42m  \033[43m  \033[44m  \033[45m  \033[46m  \033[47m  \033[0m\n'
printf '\033[38;5;208m256-colour\033[0m \033[38;2;80;160;255;48;2;40;40;40mtruecolour\033[0m\n'
printf '\033[1mbold\033[0m \033[2mdim\033[0m \033[3mitalic\033[0m \033[4munderline\033[0m '
printf '\033[7mreverse\033[0m \033[9mstrike\033[0m\n'
printf '┌────┐\n'
printf '│ ok │ wide: 日本\n'
printf '└────┘\n'
printf 'done\n'
"""


def showcase_argv(then: str) -> list[str]:
    return ["/bin/sh", "-c", SHOWCASE + then]


def main_screen(pilot: Pilot[Any]) -> MainScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def shows(pilot: Pilot[Any], terminal: Terminal, text: str) -> None:
    def ready() -> bool:
        snapshot = terminal.snapshot
        return snapshot is not None and text in "\n".join(snapshot.text())

    await wait_for(pilot, ready)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_terminal_tab(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """A running program: its output, and the cursor where it waits for input."""
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_showcase(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        terminal = await main_screen(pilot).open_terminal(showcase_argv("exec cat"))
        await shows(pilot, terminal, "done")

    assert snap_compare(app, terminal_size=size, run_before=open_showcase)


def test_exited_terminal(snap_compare: Any, tmp_path: Path) -> None:
    """The exit status line below the program's last output."""
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_showcase(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        terminal = await main_screen(pilot).open_terminal(showcase_argv("exit 3"))
        await shows(pilot, terminal, "done")
        await wait_for(pilot, lambda: terminal.snapshot is not None and not terminal.alive)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_showcase)


def test_terminal_panel(snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bottom panel's shell under a terminal tab."""
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.setenv("PS1", "$ ")
    monkeypatch.setenv("ENV", "")
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_panel(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        screen = main_screen(pilot)
        terminal = await screen.open_terminal(showcase_argv("exec cat"))
        await shows(pilot, terminal, "done")
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.panel_terminal is not None)
        shell = screen.panel_terminal
        assert shell is not None
        # Typed before the shell prints its prompt, the echo would come first.
        await wait_for(
            pilot,
            lambda: (
                shell.has_focus
                and shell.snapshot is not None
                and "$" in "\n".join(shell.snapshot.text())
            ),
        )
        await pilot.press(*"echo panel", "enter")
        await shows(pilot, shell, "$ echo panel\npanel\n$")

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_panel)
