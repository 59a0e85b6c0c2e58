"""Remappable keys (``ide.keymap``), the F1 help and resizing the panel and sidebar."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Input, Static

from symphony_tui.app import SymphonyApp
from symphony_tui.keymap import check_keymap, key_rows, keys_for
from symphony_tui.screens.help import HelpScreen
from symphony_tui.screens.main import MainScreen
from symphony_tui.widgets.terminal import Terminal
from tests.tui.helpers import wait_for

pytestmark = pytest.mark.usefixtures("plain_shell")

SIZE = (100, 30)


def with_keymap(workspace: Path, toml: str) -> SymphonyApp:
    (workspace / ".symphony").mkdir(exist_ok=True)
    (workspace / ".symphony" / "config.toml").write_text("[ide.keymap]\n" + toml)
    return SymphonyApp(workspace, watch_config=False)


def screen_of(app: SymphonyApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


def footer_keys(app: SymphonyApp) -> dict[str, str]:
    return {key: b.binding.action for key, b in app.screen.active_bindings.items()}


def shown(widget: Widget) -> str:
    """The text a widget draws."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(strip.text for strip in strips)


def rendered(terminal: Terminal) -> str:
    return "\n".join(terminal.render_line(y).text for y in range(terminal.size.height))


# --- checking a keymap -----------------------------------------------------------------------


def test_every_remappable_binding_has_a_unique_place_and_a_description() -> None:
    rows = key_rows({})
    assert all(row.description and row.keys for row in rows)
    ids = [(row.scope, row.id) for row in rows if row.id]
    assert len(ids) == len(set(ids))
    assert {"save", "quick_open", "help", "terminal_leave", "editor_undo", "find_next"} <= {
        row.id for row in rows
    }


def test_unknown_ids_are_refused_with_a_suggestion_and_the_rest_applies() -> None:
    valid, problems = check_keymap({"sav": "f5", "quick_open": "ctrl+u"})
    assert valid == {"quick_open": "ctrl+u"}
    assert problems == [
        "ide.keymap.sav: no action has this id (did you mean 'save'?); F1 lists them"
    ]


def test_a_key_another_action_of_the_same_place_has_is_refused() -> None:
    valid, problems = check_keymap({"save": "ctrl+f", "editor_undo": "ctrl+u", "redo": "f9"})
    assert "save" not in valid and "editor_undo" not in valid
    assert "ide.keymap.save: ctrl+f is already the key of 'find' in Workspace" in problems[1]
    assert "ctrl+u is already the key of 'Delete to line start' in Editor" in problems[2]


def test_the_apps_priority_keys_clash_in_every_place() -> None:
    _valid, problems = check_keymap({"terminal_leave": "ctrl+q"})
    assert problems == [
        "ide.keymap.terminal_leave: ctrl+q is already the key of 'quit' in Terminal;"
        " this entry is ignored"
    ]


def test_keys_are_normalised_and_several_keys_allowed() -> None:
    valid, problems = check_keymap({"help": "?, f1"})
    assert problems == [] and valid == {"help": "question_mark,f1"}
    assert keys_for("help", valid) == ("question_mark", "f1")
    assert keys_for("help", {}) == ("f1",)


# --- in the app ------------------------------------------------------------------------------


async def test_a_remapped_save_key_saves_and_the_old_one_does_not(workspace: Path) -> None:
    app = with_keymap(workspace, 'save = "f5"\n')
    async with app.run_test(size=SIZE) as pilot:
        editor = await screen_of(app).open_file(workspace / "main.py")
        assert editor is not None
        await pilot.press("end", "x", "ctrl+s")
        await wait_for(pilot, lambda: editor.dirty)
        await pilot.pause(0.2)  # time for ctrl+s to save, were it still the key
        assert editor.dirty and "x" not in (workspace / "main.py").read_text()
        assert footer_keys(app).get("f5") == "save" and "ctrl+s" not in footer_keys(app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: not editor.dirty)
        assert (workspace / "main.py").read_text().startswith("def main():x")


async def test_problems_are_reported_and_the_welcome_view_shows_the_new_keys(
    workspace: Path,
) -> None:
    app = with_keymap(workspace, 'quick_open = "ctrl+u"\nnot_an_action = "f9"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [n.title for n in app._notifications] == ["Key bindings skipped"]
        assert "ide.keymap.not_an_action" in next(iter(app._notifications)).message
        welcome = screen_of(app).query_one("#welcome-keys", Static)
        assert ("^u", "Open a file by name") in screen_of(app).key_help()
        assert "^o" not in shown(welcome) and "^u" in shown(welcome)
        await pilot.press("ctrl+u")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "QuickOpen")


async def test_terminal_keys_follow_the_keymap(workspace: Path) -> None:
    app = with_keymap(workspace, 'terminal_leave = "f9"\ntoggle_panel = "f10"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.focused, Terminal))
        terminal = app.focused
        assert isinstance(terminal, Terminal)
        await wait_for(pilot, lambda: "$" in rendered(terminal))
        # ctrl+g is the program's again (the shell rings a bell or ignores it); f9 leaves.
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert app.focused is terminal
        await pilot.press("f10")  # let through to the screen: the panel opens
        await wait_for(pilot, lambda: screen_of(app).panel_terminal is not None)
        panel_terminal = screen_of(app).panel_terminal
        assert app.focused is panel_terminal
        await pilot.press("f10")
        await pilot.pause()
        assert app.focused is terminal
        await pilot.press("f9")
        await pilot.pause()
        assert app.focused is not terminal


async def test_f1_lists_the_keys_in_effect_and_filters_as_you_type(workspace: Path) -> None:
    app = with_keymap(workspace, 'save = "f5,ctrl+s"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("#help-table", Static)
        text = shown(table)
        assert "Workspace" in text and "Terminal" in text and "editor_undo" in text
        await pilot.press(*"save")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "save"
        lines = [line for line in shown(table).splitlines() if line.strip()]
        assert any("f5, ctrl+s" in line and "save" in line for line in lines)
        assert not any("editor_undo" in line for line in lines)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


# --- sizes -----------------------------------------------------------------------------------


async def test_panel_and_sidebar_resize_with_keys_and_by_dragging(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.panel_terminal is not None)
        panel = screen.query_one("#panel")
        await pilot.pause()
        before = panel.outer_size.height
        await pilot.press("ctrl+shift+up")  # from inside the panel's terminal
        await pilot.pause()
        assert panel.outer_size.height == before + 2 == screen.panel_rows
        # Drag the panel's top border up by three rows.
        top = panel.region.y
        await pilot.mouse_down(offset=(panel.region.x + 10, top))
        await pilot.hover(offset=(panel.region.x + 10, top - 3))
        await pilot.mouse_up(offset=(panel.region.x + 10, top - 3))
        await pilot.pause()
        assert panel.outer_size.height == before + 5
        # The sidebar's right border.
        sidebar = screen.query_one("#sidebar")
        edge = sidebar.region.right - 1
        await pilot.mouse_down(offset=(edge, 5))
        await pilot.hover(offset=(edge + 6, 5))
        await pilot.mouse_up(offset=(edge + 6, 5))
        await pilot.pause()
        assert sidebar.outer_size.width == screen.sidebar_columns == edge + 7
        # Clamped: the main area keeps room.
        screen.set_panel_height(500)
        await pilot.pause()
        assert screen.query_one("#main-tabs").outer_size.height >= 4


async def test_footer_leaves_theme_and_health_out_when_narrow(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert {"f1", "ctrl+q"} <= set(footer_keys(app))
        assert not {"ctrl+t", "f2"} & set(footer_keys(app))
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert {"ctrl+t", "f2"} <= set(footer_keys(app))
