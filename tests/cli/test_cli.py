"""The ``symphony`` command line as a script or CI uses it: real subprocesses, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import __version__


def symphony(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m symphony_cli ARGS`` as a script runs it: ``stdin`` is its whole input (never
    the test's own), ``env`` is added to the environment."""
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "symphony_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        env=full_env,
        timeout=60,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    ws.mkdir()
    (ws / "app.py").write_text("print('hi')\n")
    return ws


def write_project_config(ws: Path, text: str, name: str = "config.toml") -> Path:
    folder = ws / ".symphony"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_help_lists_commands() -> None:
    result = symphony("--help")
    assert result.returncode == 0
    for command in ("version", "doctor", "config"):
        assert command in result.stdout
    assert "symphony [PATH]" in result.stdout


def test_router_knows_every_real_subcommand() -> None:
    import typer

    from symphony_cli.main import SUBCOMMANDS, app

    real = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert real == SUBCOMMANDS


def test_version_text_and_json() -> None:
    result = symphony("version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"symphony {__version__} (Python 3.")
    data = json.loads(symphony("version", "--json").stdout)
    assert data["symphony"] == __version__


def test_unknown_option_is_a_usage_error_on_stderr() -> None:
    result = symphony("version", "--bogus")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--bogus" in result.stderr


def test_opening_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = symphony(str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "no such folder" in result.stderr
    assert result.stdout == ""


def test_opening_a_file_is_a_usage_error(workspace: Path) -> None:
    result = symphony(str(workspace / "app.py"))
    assert result.returncode == 2
    assert "not a folder" in result.stderr


def test_opening_with_invalid_config_exits_2_before_the_ui_starts(workspace: Path) -> None:
    cfg = write_project_config(workspace, "[ide]\ntab_sise = 4\n")
    result = symphony(str(workspace))
    assert result.returncode == 2
    assert str(cfg) in result.stderr and "ide.tab_sise" in result.stderr


def test_opening_without_a_terminal_says_so(workspace: Path) -> None:
    result = symphony(str(workspace))
    assert result.returncode == 2
    assert "needs an interactive terminal" in result.stderr


def test_malformed_set_is_a_usage_error(workspace: Path) -> None:
    result = symphony("--set", "noequals", "config", "show", cwd=workspace)
    assert result.returncode == 2
    assert "--set" in result.stderr


def test_doctor_reports_every_component_healthy(workspace: Path) -> None:
    result = symphony("doctor", cwd=workspace, env={"TERM": "xterm-256color"})
    assert result.returncode == 0, result.stdout + result.stderr
    for component in ("types", "config", "workspace", "bus", "environment", "themes"):
        assert f"] {component}" in result.stdout
    assert "start-up" in result.stdout
    data = json.loads(
        symphony("doctor", "--json", cwd=workspace, env={"TERM": "xterm-256color"}).stdout
    )
    assert data["status"] == "healthy"
    assert {c["name"] for c in data["components"]} >= {
        "types",
        "config",
        "workspace",
        "bus",
        "themes",
    }
    assert [p["name"] for p in data["phases"]] == [
        "types",
        "config",
        "workspace",
        "bus",
        "pit",
        "extensions",
        "runs",
    ]


def test_doctor_exits_nonzero_and_names_the_bad_file_when_config_is_invalid(
    workspace: Path,
) -> None:
    cfg = write_project_config(workspace, "[core]\nconcurrency = 'many'\n")
    result = symphony("doctor", cwd=workspace)
    assert result.returncode == 1
    assert "[XX] config" in result.stdout
    assert str(cfg) in result.stdout and "core.concurrency" in result.stdout
    assert "not started: phase 'config' failed" in result.stdout


def test_doctor_degraded_for_a_bad_theme_file_but_exit_0(workspace: Path) -> None:
    themes = workspace / ".symphony" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text(
        '[theme]\nname = "broken"\n[colors]\nprimary = "blue-ish"\n'
    )
    result = symphony("doctor", cwd=workspace, env={"TERM": "xterm-256color"})
    assert result.returncode == 0
    assert "[!!] themes" in result.stdout
    assert "broken.toml" in result.stdout and "colors.primary" in result.stdout


def test_doctor_flags_a_configured_theme_that_is_not_installed(workspace: Path) -> None:
    result = symphony(
        "--set", "ide.theme=vapourwave", "doctor", cwd=workspace, env={"TERM": "xterm-256color"}
    )
    assert result.returncode == 0
    assert (
        "[!!] themes" in result.stdout and "'vapourwave', which is not installed" in result.stdout
    )


def test_config_show_origin_names_each_layer(workspace: Path, isolated_home: Path) -> None:
    user_cfg = isolated_home / "xdg_config_home" / "symphony" / "config.toml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text('[ide]\ntheme = "nocturne"\n[core]\nlog_level = "debug"\n')
    project_cfg = write_project_config(
        workspace, "[core]\nlog_level = 'warning'\n[ide.editor]\ntab_size = 2\n"
    )
    result = symphony(
        "--set",
        "ide.editor.word_wrap=true",
        "config",
        "show",
        "--origin",
        cwd=workspace,
        env={"SYMPHONY_CORE__CONCURRENCY": "3"},
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split(" = ")[0]: line for line in result.stdout.splitlines()}
    assert (
        lines["ide.theme"].startswith('ide.theme = "nocturne"')
        and f"user: {user_cfg}" in lines["ide.theme"]
    )
    assert (
        f"project: {project_cfg}" in lines["core.log_level"]
        and '"warning"' in lines["core.log_level"]
    )
    assert "env: SYMPHONY_CORE__CONCURRENCY" in lines["core.concurrency"]
    assert "cli: --set ide.editor.word_wrap=true" in lines["ide.editor.word_wrap"]
    assert lines["ipc.transport"].endswith("# default")

    data = json.loads(symphony("config", "show", "--origin", "--json", cwd=workspace).stdout)
    assert data["ide.editor.tab_size"] == {
        "value": 2,
        "layer": "project",
        "source": str(project_cfg),
    }


def test_set_after_the_sub_command_works_too(workspace: Path) -> None:
    result = symphony(
        "config", "show", "--key", "ide.theme", "--set", "ide.theme=nocturne", cwd=workspace
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ide.theme = "nocturne"'


def test_config_show_key_filter(workspace: Path) -> None:
    result = symphony("config", "show", "--key", "ide.editor", cwd=workspace)
    assert result.returncode == 0
    assert all(line.startswith("ide.editor.") for line in result.stdout.splitlines())
    missing = symphony("config", "show", "--key", "nope", cwd=workspace)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_config_validate_ok_and_invalid(workspace: Path) -> None:
    ok = symphony("config", "validate", cwd=workspace)
    assert ok.returncode == 0 and "valid" in ok.stdout
    cfg = write_project_config(workspace, "[ipc]\ntransport = 'carrier-pigeon'\n")
    bad = symphony("config", "validate", cwd=workspace)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert (
        str(cfg) in bad.stderr and "ipc.transport" in bad.stderr and "carrier-pigeon" in bad.stderr
    )


def test_config_validate_reports_syntax_errors_with_the_file(workspace: Path) -> None:
    cfg = write_project_config(workspace, "[core\nlog_level = 1\n")
    bad = symphony("config", "validate", cwd=workspace)
    assert bad.returncode == 2
    assert str(cfg) in bad.stderr


def test_config_validate_env_var_named_in_error(workspace: Path) -> None:
    bad = symphony(
        "config", "validate", cwd=workspace, env={"SYMPHONY_IDE__EDITOR__TAB_SIZE": "wide"}
    )
    assert bad.returncode == 2
    assert "SYMPHONY_IDE__EDITOR__TAB_SIZE" in bad.stderr


def test_carets_is_installed_and_answers() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "carets"), "version"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"carets {__version__}"
