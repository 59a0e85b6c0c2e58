"""Invalid configuration: every error names the file (or variable), the key and the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.config import ConfigService, load_config, user_config_dir
from engine.types.errors import EXIT_USAGE, ConfigError, ConfigErrors

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def project_file(workspace: Path, text: str, name: str = "config.toml") -> Path:
    return write(workspace / ".symphony" / name, text)


def load_error(
    workspace: Path, env: dict[str, str], overrides: list[str] | None = None
) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(workspace, env=env, overrides=overrides or [])
    assert info.value.exit_code == EXIT_USAGE
    return info.value


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("config.toml", '[ide]\ntheme = "unclosed\n', "line 2"),
        ("config.json", '{\n  "ide": {"theme": }\n}\n', "line 2"),
        ("config.yaml", "ide:\n  theme: [unclosed\n", "line 3"),
        ("config.yml", "ide:\n\ttheme: x\n", "line 2"),
    ],
)
def test_syntax_error_names_file_and_line(
    workspace: Path, env: dict[str, str], name: str, text: str, where: str
) -> None:
    path = project_file(workspace, text, name)

    err = load_error(workspace, env)

    assert err.source == str(path)
    assert str(err).startswith(f"{path}: invalid ")
    assert where in err.reason


@pytest.mark.parametrize(
    ("name", "text"), [("config.json", "[1, 2]"), ("config.yaml", "- a\n- b\n")]
)
def test_top_level_must_be_a_table(
    workspace: Path, env: dict[str, str], name: str, text: str
) -> None:
    path = project_file(workspace, text, name)

    err = load_error(workspace, env)

    assert err.source == str(path)
    assert "top level must be a table" in err.reason


def test_non_string_yaml_key(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(workspace, "ide:\n  1: x\n", "config.yaml")

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "ide.1")


def test_unknown_key_names_file_key_and_known_keys(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(workspace, '[ide]\nthemee = "dark"\n')

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "ide.themee")
    assert str(err) == (
        f"{path}: ide.themee: unknown key; did you mean 'theme'? "
        "(known: theme, keymap, editor, explorer, terminal)"
    )


def test_unknown_section(workspace: Path, env: dict[str, str]) -> None:
    path = write(user_config_dir(env) / "config.toml", "[editor]\ntab_size = 2\n")

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "editor")
    assert "known: core, ide, extensions, aide, ipc" in err.reason


def test_unknown_key_inside_a_model_entry(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(
        workspace, '[aide.models.m]\nbase_url = "u"\nmodel = "m"\ntemprature = 0.2\n'
    )

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "aide.models.m.temprature")
    assert "did you mean 'temperature'?" in err.reason


def test_wrong_type_names_file_key_and_reason(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(workspace, '[core]\nconcurrency = "many"\n')

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "core.concurrency")
    assert "valid integer" in err.reason
    assert "'many'" in err.reason


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        ("config.toml", "[ide]\ntheme = 42\n", "ide.theme"),
        ("config.json", '{"core": {"concurrency": "4"}}', "core.concurrency"),
        ("config.yaml", "ide:\n  editor:\n    word_wrap: 1\n", "ide.editor.word_wrap"),
    ],
)
def test_types_are_strict_in_files(
    workspace: Path, env: dict[str, str], name: str, text: str, key: str
) -> None:
    path = project_file(workspace, text, name)

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), key)


def test_list_items_are_not_turned_into_text(workspace: Path, env: dict[str, str]) -> None:
    err = load_error(workspace, env, ["extensions.dirs=[1]"])

    assert (err.source, err.key) == ("--set extensions.dirs=[1]", "extensions.dirs.0")


def test_out_of_range_and_bad_choice(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(workspace, '[ide.editor]\ntab_size = 0\nautosave = "sometimes"\n')

    err = load_error(workspace, env)

    assert isinstance(err, ConfigErrors)
    by_key = {e.key: e for e in err.errors}
    assert set(by_key) == {"ide.editor.tab_size", "ide.editor.autosave"}
    assert "greater than or equal to 1" in by_key["ide.editor.tab_size"].reason
    assert "'sometimes'" in by_key["ide.editor.autosave"].reason
    assert {e.source for e in err.errors} == {str(path)}


def test_missing_required_key_blames_the_file_that_made_the_table(
    workspace: Path, env: dict[str, str]
) -> None:
    path = project_file(workspace, '[aide.models.local]\nbase_url = "http://x"\n')

    err = load_error(workspace, env)

    assert (err.source, err.key) == (str(path), "aide.models.local.model")
    assert "missing" in err.reason


def test_cross_field_rule(workspace: Path, env: dict[str, str]) -> None:
    err = load_error(workspace, env, ["aide.artifacts.hot_days=60"])

    assert (err.source, err.key) == ("--set aide.artifacts.hot_days=60", "aide.artifacts")
    assert "warm_days (30) must not be less than hot_days (60)" in err.reason


def test_env_variable_with_wrong_type_names_the_variable(
    workspace: Path, env: dict[str, str]
) -> None:
    env["SYMPHONY_CORE__CONCURRENCY"] = "lots"

    err = load_error(workspace, env)

    assert (err.source, err.key) == ("env SYMPHONY_CORE__CONCURRENCY", "core.concurrency")
    assert "SYMPHONY_CORE__CONCURRENCY" in str(err)


def test_malformed_env_variable_name(workspace: Path, env: dict[str, str]) -> None:
    env["SYMPHONY_IDE__"] = "x"

    err = load_error(workspace, env)

    assert err.source == "env SYMPHONY_IDE__"


def test_set_with_wrong_type_names_the_override(workspace: Path, env: dict[str, str]) -> None:
    err = load_error(workspace, env, ["ipc.transport=carrier-pigeon"])

    assert (err.source, err.key) == ("--set ipc.transport=carrier-pigeon", "ipc.transport")
    assert "'unix' or 'tcp'" in err.reason


def test_all_errors_are_reported(workspace: Path, env: dict[str, str]) -> None:
    user = write(user_config_dir(env) / "config.toml", "[ide]\nkeymapp = 'vim'\n")
    project = project_file(workspace, "[ipc]\nheartbeat_s = -1\n")
    env["SYMPHONY_CORE__LOG_LEVEL"] = "loud"

    err = load_error(workspace, env, ["ide.editor.word_wrap=maybe"])

    assert isinstance(err, ConfigErrors)
    found = {(e.source, e.key) for e in err.errors}
    assert found == {
        (str(user), "ide.keymapp"),
        (str(project), "ipc.heartbeat_s"),
        ("env SYMPHONY_CORE__LOG_LEVEL", "core.log_level"),
        ("--set ide.editor.word_wrap=maybe", "ide.editor.word_wrap"),
    }
    assert len(str(err).splitlines()) == 4


def test_syntax_errors_in_both_files_are_reported(workspace: Path, env: dict[str, str]) -> None:
    user = write(user_config_dir(env) / "config.toml", "[ide\n")
    project = project_file(workspace, "{", "config.json")

    err = load_error(workspace, env, ["broken"])

    assert isinstance(err, ConfigErrors)
    assert {e.source for e in err.errors} == {str(user), str(project), "--set"}


def test_service_refuses_to_start_on_invalid_config(workspace: Path, env: dict[str, str]) -> None:
    project_file(workspace, "[core]\nconcurrency = 0\n")

    with pytest.raises(ConfigError, match=r"core\.concurrency"):
        ConfigService(workspace, env=env)


def test_service_keeps_last_good_config_on_error(workspace: Path, env: dict[str, str]) -> None:
    path = project_file(workspace, '[ide]\ntheme = "good"\n')
    service = ConfigService(workspace, env=env)
    good = service.current

    path.write_text('[ide]\ntheme = "better"\nbogus = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ide\.bogus: unknown key"):
        service.reload()
    assert service.current is good

    path.write_text("[ide\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        service.reload()
    assert service.current.config.ide.theme == "good"

    path.write_text('[ide]\ntheme = "better"\n', encoding="utf-8")
    assert service.reload() == ["ide.theme"]
    assert service.current.config.ide.theme == "better"
