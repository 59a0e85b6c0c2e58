"""Configuration layers: each overrides the one below, origins say which set what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import (
    DEFAULT_ORIGIN,
    LayerFile,
    Origin,
    SymphonyConfig,
    changed_keys,
    load_config,
    user_config_dir,
)
from engine.config.sources import parse_value
from engine.types.errors import ConfigError


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose user config dir is inside tmp_path (also set for platformdirs)."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    return {"XDG_CONFIG_HOME": str(xdg)}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def write_user(env: dict[str, str], text: str, name: str = "config.toml") -> Path:
    path = user_config_dir(env) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_project(workspace: Path, text: str, name: str = "config.toml") -> Path:
    path = workspace / ".symphony" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_files_gives_defaults_with_builtin_origins(workspace: Path, env: dict[str, str]) -> None:
    loaded = load_config(workspace, env=env)

    assert loaded.config == SymphonyConfig()
    assert loaded.config.core.concurrency == 4
    assert set(loaded.origins) == set(loaded.flat())
    assert set(loaded.origins.values()) == {DEFAULT_ORIGIN}
    assert loaded.files == [
        LayerFile("user", user_config_dir(env) / "config.toml", False),
        LayerFile("project", workspace / ".symphony" / "config.toml", False),
    ]
    # Empty tables and lists are leaves of flat().
    assert loaded.flat()["aide.models"] == {}
    assert loaded.flat()["extensions.dirs"] == []


def test_each_layer_overrides_the_one_below(workspace: Path, env: dict[str, str]) -> None:
    user = write_user(
        env,
        '[core]\nlog_level = "debug"\ndata_dir = "user"\n[ide]\ntheme = "user"\n'
        "[ide.editor]\ntab_size = 2\nword_wrap = true\n[ipc]\nrate_burst = 10\n",
    )
    project = write_project(
        workspace,
        '[core]\ndata_dir = "project"\n[ide]\ntheme = "project"\n[ide.editor]\ntab_size = 3\n',
    )
    env.update({"SYMPHONY_IDE__THEME": "env", "SYMPHONY_IDE__EDITOR__TAB_SIZE": "5"})

    loaded = load_config(workspace, env=env, overrides=["ide.theme=cli"])

    expected = {
        "ide.theme": ("cli", Origin("cli", "--set ide.theme=cli")),
        "ide.editor.tab_size": (5, Origin("env", "SYMPHONY_IDE__EDITOR__TAB_SIZE")),
        "core.data_dir": ("project", Origin("project", str(project))),
        "ide.editor.word_wrap": (True, Origin("user", str(user))),
        "core.log_level": ("debug", Origin("user", str(user))),
        "ipc.rate_burst": (10, Origin("user", str(user))),
        "ipc.heartbeat_s": (5.0, DEFAULT_ORIGIN),
    }
    flat = loaded.flat()
    for key, (value, origin) in expected.items():
        assert (flat[key], loaded.origins[key]) == (value, origin), key
    assert loaded.files == [
        LayerFile("user", user, True),
        LayerFile("project", project, True),
    ]


def test_tables_merge_and_lists_replace(workspace: Path, env: dict[str, str]) -> None:
    write_user(env, '[ide.explorer]\nexclude = ["a", "b"]\nshow_hidden = false\n')
    write_project(workspace, '[ide.explorer]\nexclude = ["c"]\n')

    explorer = load_config(workspace, env=env).config.ide.explorer

    assert explorer.exclude == ["c"]
    assert explorer.show_hidden is False


def test_model_table_has_an_origin_per_leaf(workspace: Path, env: dict[str, str]) -> None:
    project = write_project(
        workspace,
        '[aide]\ndefault_model = "local"\n'
        '[aide.models.local]\nbase_url = "http://127.0.0.1:8080/v1"\nmodel = "m"\n',
    )
    env["SYMPHONY_AIDE__MODELS__LOCAL__TIMEOUT_S"] = "5"

    loaded = load_config(workspace, env=env)

    assert loaded.config.aide.models["local"].timeout_s == 5.0
    assert loaded.origins["aide.models.local.base_url"] == Origin("project", str(project))
    assert loaded.origins["aide.models.local.model"] == Origin("project", str(project))
    assert loaded.origins["aide.models.local.timeout_s"].layer == "env"
    assert loaded.origins["aide.models.local.max_tokens"] == DEFAULT_ORIGIN
    assert "aide.models" not in loaded.origins
    assert set(loaded.origins) == set(loaded.flat())


def test_env_nesting_and_non_config_variables(workspace: Path, env: dict[str, str]) -> None:
    env.update(
        {
            "SYMPHONY_IDE__EDITOR": "{ tab_size = 3, word_wrap = true }",
            "SYMPHONY_IDE__EDITOR__TAB_SIZE": "2",  # more specific: wins over the table
            "SYMPHONY_CONFIG_HOME": "/somewhere/else",  # reserved, not configuration
            "SYMPHONY_DEBUG": "1",
            "OTHER__THING": "x",
        }
    )

    loaded = load_config(workspace, env=env)

    assert loaded.config.ide.editor.tab_size == 2
    assert loaded.config.ide.editor.word_wrap is True
    assert loaded.origins["ide.editor.word_wrap"] == Origin("env", "SYMPHONY_IDE__EDITOR")


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [
        ("core.concurrency=7", "core.concurrency", 7),
        ("ide.editor.word_wrap=true", "ide.editor.word_wrap", True),
        ('extensions.dirs=["a", "b"]', "extensions.dirs", ["a", "b"]),
        ('ide.theme="quoted name"', "ide.theme", "quoted name"),
        ("ide.theme=plain text", "ide.theme", "plain text"),
        ("aide.default_model=gpt-4.1", "aide.default_model", "gpt-4.1"),
        ("core.data_dir=", "core.data_dir", ""),
        ("ide.keymap.save=f5", "ide.keymap.save", "f5"),
        (" core.log_level = warning", "core.log_level", "warning"),
    ],
)
def test_set_values_are_parsed(
    workspace: Path, env: dict[str, str], override: str, key: str, value: object
) -> None:
    loaded = load_config(workspace, env=env, overrides=[override])

    assert loaded.flat()[key] == value
    assert loaded.origins[key] == Origin("cli", f"--set {override}")


def test_env_and_set_values_that_read_as_numbers_can_be_names(
    workspace: Path, env: dict[str, str]
) -> None:
    env["SYMPHONY_IDE__THEME"] = "42"

    loaded = load_config(
        workspace, env=env, overrides=["aide.default_model=true", "core.concurrency=3"]
    )

    assert (loaded.config.ide.theme, loaded.config.aide.default_model) == ("42", "true")
    assert loaded.config.core.concurrency == 3


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("4", 4),
        ("1.5", 1.5),
        ("true", True),
        ('["a", "b"]', ["a", "b"]),
        ('"x"', "x"),
        ("x", "x"),
        ("2024-01-01", "2024-01-01"),  # dates are kept as text
        ("1\nother = 2", "1\nother = 2"),  # not a single value
        ("  spaced out ", "spaced out"),
    ],
)
def test_parse_value(raw: str, value: object) -> None:
    assert parse_value(raw) == value


def test_last_set_wins(workspace: Path, env: dict[str, str]) -> None:
    loaded = load_config(workspace, env=env, overrides=["ide.theme=a", "ide.theme=b"])

    assert loaded.config.ide.theme == "b"
    assert loaded.origins["ide.theme"].source == "--set ide.theme=b"


@pytest.mark.parametrize("override", ["ide.theme", "=x", "ide..theme=x", ".theme=x", " =x"])
def test_malformed_set_is_an_error(workspace: Path, env: dict[str, str], override: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(workspace, env=env, overrides=[override])

    assert info.value.source == "--set"
    assert str(info.value).startswith("--set: ")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config.toml", '[ide]\ntheme = "t"\n[ide.editor]\ntab_size = 2\n'),
        ("config.json", json.dumps({"ide": {"theme": "t", "editor": {"tab_size": 2}}})),
        ("config.yaml", "ide:\n  theme: t\n  editor:\n    tab_size: 2\n"),
        ("config.yml", "# comment\nide: {theme: t, editor: {tab_size: 2}}\n"),
    ],
)
def test_project_file_formats(workspace: Path, env: dict[str, str], name: str, text: str) -> None:
    path = write_project(workspace, text, name)

    loaded = load_config(workspace, env=env)

    assert (loaded.config.ide.theme, loaded.config.ide.editor.tab_size) == ("t", 2)
    assert loaded.origins["ide.theme"] == Origin("project", str(path))
    assert loaded.files[1] == LayerFile("project", path, True)


@pytest.mark.parametrize("name", ["config.toml", "config.json", "config.yaml"])
def test_empty_files_are_valid(workspace: Path, env: dict[str, str], name: str) -> None:
    write_project(workspace, "", name)
    write_user(env, "# nothing yet\n", "config.yaml")

    assert load_config(workspace, env=env).config == SymphonyConfig()


def test_two_project_files_is_an_error_naming_both(workspace: Path, env: dict[str, str]) -> None:
    toml = write_project(workspace, '[ide]\ntheme = "a"\n')
    yaml = write_project(workspace, "ide:\n  theme: b\n", "config.yaml")

    with pytest.raises(ConfigError) as info:
        load_config(workspace, env=env)

    assert str(toml) in str(info.value)
    assert str(yaml) in str(info.value)


def test_two_user_files_is_an_error_naming_both(workspace: Path, env: dict[str, str]) -> None:
    json_file = write_user(env, "{}", "config.json")
    yml = write_user(env, "{}", "config.yml")

    with pytest.raises(ConfigError) as info:
        load_config(workspace, env=env)

    assert str(json_file) in str(info.value)
    assert str(yml) in str(info.value)


def test_user_dir_follows_xdg_config_home(workspace: Path, env: dict[str, str]) -> None:
    path = write_user(env, '[ide]\ntheme = "from-user"\n')

    assert path == Path(env["XDG_CONFIG_HOME"]) / "symphony" / "config.toml"
    # With env=None, platformdirs reads XDG_CONFIG_HOME (set by the fixture) itself.
    assert load_config(workspace, env=None).config.ide.theme == "from-user"


def test_changed_keys(workspace: Path, env: dict[str, str]) -> None:
    before = load_config(workspace, env=env)
    after = load_config(
        workspace,
        env=env,
        overrides=["ide.theme=x", "core.concurrency=4", 'aide.models.m={base_url="u", model="m"}'],
    )

    changed = changed_keys(before, after)

    assert "ide.theme" in changed
    assert "core.concurrency" not in changed  # set, but to the value it already had
    assert "aide.models" in changed  # the empty table went away…
    assert "aide.models.m.base_url" in changed  # …and the model's leaves appeared
    assert changed == sorted(changed)
    assert changed_keys(before, before) == []
