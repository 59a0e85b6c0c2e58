"""The TUI driven as a user would, with Pilot: explorer, palette, themes, health, config reload."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TabbedContent

from symphony_tui.app import SymphonyApp
from symphony_tui.screens.health import HealthScreen
from symphony_tui.widgets.editor import Editor
from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import palette_choose, wait_for


def tree_labels(app: SymphonyApp) -> list[str]:
    tree = app.screen.query_one(Explorer)
    return [str(node.label) for node in tree.root.children]


async def test_explorer_lists_files_and_respects_gitignore(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(tree_labels(app)) > 0)
        labels = tree_labels(app)
        assert {"src", "README.md", "main.py", ".gitignore"} <= set(labels)
        assert "build" not in labels and "secret.log" not in labels


async def test_status_bar_shows_engine_healthy(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: bar.health == "healthy")
        assert bar.workspace == "demo"
        assert bar.theme_name == "symphony-dark"


async def test_palette_lists_symphony_commands_and_runs_engine_health(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
        await pilot.press("ctrl+p")
        await palette_choose(pilot, "engine health")
        await wait_for(pilot, lambda: isinstance(app.screen, HealthScreen))
        assert isinstance(app.screen, HealthScreen)
        names = [c.name for c in app.screen.report.components]
        assert names[:6] == ["types", "config", "workspace", "bus", "pit", "extensions"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HealthScreen))


async def test_selecting_a_file_opens_an_editor_tab_and_ctrl_w_closes_it(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(Explorer)
        await wait_for(pilot, lambda: "main.py" in tree_labels(app))
        index = tree_labels(app).index("main.py")
        tree.cursor_line = index + 1  # line 0 is the root
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.screen.query(Editor)) == 1)
        editor = app.screen.query_one(Editor)
        assert "print('hello')" in editor.text
        tabs = app.screen.query_one(TabbedContent)
        assert tabs.active != "tab-welcome"
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: len(app.screen.query(Editor)) == 0)
        assert tabs.active == "tab-welcome"


async def test_ctrl_b_toggles_the_sidebar(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        sidebar = app.screen.query_one("#sidebar")
        assert sidebar.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not sidebar.display
        await pilot.press("ctrl+e")
        explorer = app.screen.query_one(Explorer)
        await wait_for(pilot, lambda: sidebar.display and app.focused is explorer)


async def test_switching_theme_applies_and_is_saved_to_user_config(
    workspace: Path, isolated_home: Path
) -> None:
    app = SymphonyApp(workspace)
    user_cfg = isolated_home / "xdg_config_home" / "symphony" / "config.toml"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
        await pilot.press("ctrl+t")
        await palette_choose(pilot, "symphony-light")
        await wait_for(pilot, lambda: app.theme == "symphony-light")
        await wait_for(
            pilot, lambda: user_cfg.exists() and "symphony-light" in user_cfg.read_text()
        )
        assert app.screen.query_one(StatusBar).theme_name == "symphony-light"


async def test_project_config_edit_is_applied_live_and_bad_edit_keeps_last_good(
    workspace: Path,
) -> None:
    cfg = workspace / ".symphony" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[ide]\ntheme = "symphony-dark"\n')
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: bar.health == "healthy")
        cfg.write_text('[ide]\ntheme = "nocturne"\n')
        await wait_for(pilot, lambda: app.theme == "nocturne")
        cfg.write_text("[ide]\ntheme = 42\n")
        await wait_for(pilot, lambda: bar.config_problem != "")
        assert "ide.theme" in bar.config_problem
        assert app.theme == "nocturne"
        await wait_for(pilot, lambda: bar.health == "degraded")
        cfg.write_text('[ide]\ntheme = "symphony-light"\n')
        await wait_for(pilot, lambda: app.theme == "symphony-light")
        await wait_for(pilot, lambda: bar.config_problem == "" and bar.health == "healthy")


async def test_bad_theme_file_is_reported_and_skipped(workspace: Path) -> None:
    themes = workspace / ".symphony" / "themes"
    themes.mkdir(parents=True)
    (themes / "bad.toml").write_text("[theme\n")
    (themes / "mine.toml").write_text('[theme]\nname = "mine"\n[colors]\nprimary = "#123456"\n')
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:

        def reported() -> bool:
            messages = [n.message for n in app._notifications]
            return any("bad.toml" in m and "not valid TOML" in m for m in messages)

        await wait_for(pilot, reported)
        assert "mine" in app.available_themes
        assert "bad" not in app.available_themes


async def test_unknown_configured_theme_falls_back_with_a_warning(workspace: Path) -> None:
    app = SymphonyApp(workspace, overrides=["ide.theme=no-such-theme"])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: any("no-such-theme" in n.message for n in app._notifications))
        assert app.theme == "symphony-dark"


async def test_ctrl_q_quits_with_exit_code_0(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    assert app.engine.bus.closed


async def test_explorer_settings_apply_live(workspace: Path) -> None:
    cfg = workspace / ".symphony" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text("[ide.explorer]\nshow_hidden = false\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "main.py" in tree_labels(app))
        assert ".gitignore" not in tree_labels(app)
        await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
        cfg.write_text('[ide.explorer]\nshow_hidden = true\nexclude = ["src"]\n')
        await wait_for(pilot, lambda: ".gitignore" in tree_labels(app))
        assert "src" not in tree_labels(app)
        assert "main.py" in tree_labels(app)


async def test_theme_pick_warns_when_a_higher_layer_decides(workspace: Path) -> None:
    cfg = workspace / ".symphony" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[ide]\ntheme = "symphony-dark"\n')
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
        app.theme = "nocturne"
        await wait_for(pilot, lambda: any("session only" in n.message for n in app._notifications))
        assert str(cfg) in next(n.message for n in app._notifications if "session" in n.message)


async def test_reload_command_with_invalid_config_shows_the_problem(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: bar.health == "healthy")
        cfg = workspace / ".symphony" / "config.toml"
        cfg.parent.mkdir()
        cfg.write_text("[ide.editor]\ntab_size = 0\n")
        await app.run_action("reload_config")
        await wait_for(pilot, lambda: "ide.editor.tab_size" in bar.config_problem)
        await wait_for(pilot, lambda: bar.health == "degraded")
