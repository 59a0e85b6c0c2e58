"""``symphony models`` through the real CLI (subprocesses) against a real chat-completions
server on 127.0.0.1: add, list, test, remove, and bad values rejected with nothing written."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.cli.test_cli import symphony
from tests.support.model_server import Behaviour, ModelServer

if TYPE_CHECKING:
    from pathlib import Path

KEY = "sk-live-models-cli-0123456789"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    ws.mkdir()
    return ws


def project_config(ws: Path) -> Path:
    return ws / ".symphony" / "config.toml"


def test_list_without_models_says_how_to_add_one(workspace: Path) -> None:
    result = symphony("models", "list", cwd=workspace)
    assert result.returncode == 0
    assert "no AI model is configured" in result.stderr
    assert "symphony models add" in result.stderr
    assert json.loads(symphony("models", "list", "--json", cwd=workspace).stdout) == {
        "default": None,
        "models": [],
    }


def test_add_list_test_remove(workspace: Path, server: ModelServer) -> None:
    server.then(Behaviour(text="ready", usage=(1000, 2000)))
    added = symphony(
        "models", "add", "local", "--base-url", server.base_url, "--model", "m1",
        "--api-key-env", "MODELS_CLI_KEY", "--default", "--max-tokens", "64",
        "--temperature", "0.5", "--input-price", "2", "--output-price", "8",
        cwd=workspace,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    text = project_config(workspace).read_text()
    assert "[aide.models.local]" in text and 'default_model = "local"' in text

    env = {"MODELS_CLI_KEY": KEY}
    listed = symphony("models", "list", cwd=workspace, env=env)
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if "local" in line)
    assert row.startswith("*") and server.base_url in row and "MODELS_CLI_KEY (set)" in row
    assert "$2/$8 per M" in row
    data = json.loads(symphony("models", "list", "--json", cwd=workspace, env=env).stdout)
    assert data["default"] == "local"
    assert data["models"][0]["api_key_set"] is True
    assert KEY not in listed.stdout + listed.stderr

    tested = symphony("models", "test", "local", cwd=workspace, env=env)
    assert tested.returncode == 0, tested.stderr
    assert "'ready'" in tested.stdout and "first token" in tested.stdout
    assert "3000 tokens (1000 in, 2000 out)" in tested.stdout
    assert "$0.0180" in tested.stdout  # (1000 * 2 + 2000 * 8) / 1e6
    sent = server.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "m1" and sent.body["max_tokens"] == 64
    assert KEY not in tested.stdout + tested.stderr

    removed = symphony("models", "remove", "local", cwd=workspace)
    assert removed.returncode == 0, removed.stderr
    assert "local" not in project_config(workspace).read_text()
    again = symphony("models", "remove", "local", cwd=workspace)
    assert again.returncode == 2 and "no model named 'local'" in again.stderr


def test_add_to_the_user_config_and_refuse_to_overwrite(
    workspace: Path, server: ModelServer, isolated_home: Path
) -> None:
    args = ("models", "add", "shared", "--base-url", server.base_url, "--model", "m1")
    assert symphony(*args, "--user", cwd=workspace).returncode == 0
    user_file = isolated_home / "xdg_config_home" / "symphony" / "config.toml"
    assert "[aide.models.shared]" in user_file.read_text()
    assert not project_config(workspace).exists()
    before = user_file.read_text()
    again = symphony(*args, "--user", cwd=workspace)
    assert again.returncode == 2 and "--replace" in again.stderr
    assert user_file.read_text() == before
    replaced = symphony(*args[:-1], "m2", "--user", "--replace", cwd=workspace)
    assert replaced.returncode == 0, replaced.stderr
    assert 'model = "m2"' in user_file.read_text()
    wrong_layer = symphony("models", "remove", "shared", cwd=workspace)
    assert wrong_layer.returncode == 2 and "add --user" in wrong_layer.stderr


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (("--base-url", "localhost:11434"), "aide.models.bad.base_url"),
        (("--temperature", "3"), "aide.models.bad.temperature"),
        (("--max-tokens", "0"), "aide.models.bad.max_tokens"),
        (("--input-price", "-1"), "aide.models.bad.input_price"),
    ],
)
def test_bad_values_name_the_key_and_change_nothing(
    workspace: Path, extra: tuple[str, ...], key: str
) -> None:
    config = project_config(workspace)
    config.parent.mkdir()
    config.write_text("# mine\n[ide]\ntheme = 'symphony-dark'\n")
    before = config.read_text()
    args = ["--base-url", "http://127.0.0.1:1/v1", "--model", "m", *extra]
    result = symphony("models", "add", "bad", *args, cwd=workspace)
    assert result.returncode == 2
    assert key in result.stderr
    assert config.read_text() == before


def test_a_key_instead_of_its_variable_is_refused(workspace: Path) -> None:
    result = symphony(
        "models", "add", "x", "--base-url", "http://127.0.0.1:1/v1", "--model", "m",
        "--api-key-env", KEY, cwd=workspace,
    )  # fmt: skip
    assert result.returncode == 2 and "never the key itself" in result.stderr
    assert KEY not in result.stderr
    assert not project_config(workspace).exists()


def test_failures_exit_with_the_error_class_code_and_a_hint(
    workspace: Path, server: ModelServer
) -> None:
    symphony("models", "add", "m", "--base-url", server.base_url, "--model", "m1", cwd=workspace)
    server.then(Behaviour(status=401, message="bad key"))
    refused = symphony("models", "test", "m", cwd=workspace)
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr and "hint:" in refused.stderr
    config = project_config(workspace)
    config.write_text(config.read_text().replace(server.base_url, "http://127.0.0.1:9/v1"))
    config.write_text(config.read_text() + "max_retries = 0\n")
    down = symphony("models", "test", "m", cwd=workspace)
    assert down.returncode == 3, down.stderr
    assert "running and reachable" in down.stderr
    unknown = symphony("models", "test", "nope", cwd=workspace)
    assert unknown.returncode == 2 and "no model named 'nope'" in unknown.stderr
