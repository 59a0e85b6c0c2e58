"""``symphony melody validate`` as a user runs it: real melody files, the real built-in extensions.

The same checks run twice: in-process through the Typer app (fast, and independent of how the
group is registered) and as real ``python -m symphony_cli melody validate`` subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from symphony_cli.melody_cmd import app
from tests.unit.test_melody_model import SPEC_TOML

VALID = """\
[melody]
name = "check"

[params]
target = { default = "src", type = "string" }
level = { type = "integer", default = 1 }

[[steps]]
id = "lint"
uses = "ruff.check"
with = { paths = ["${params.target}"] }

[[steps]]
id = "test"
uses = "pytest.run"
with = { paths = ["tests"], check = false }

[[steps]]
id = "notify"
uses = "shell.run"
needs = ["lint"]
when = "steps.test.outputs.failed > 0 and params.level >= 1"
with = { command = "echo ${steps.test.outputs.summary}" }
"""

BROKEN = """\
[melody]
name = "broken"

[[steps]]
id = "a"
uses = "shell.run"
needs = ["b"]
with = { command = 3, cwdd = "." }

[[steps]]
id = "b"
uses = "shell.rnu"
needs = ["a"]
"""

YAML_SYNTAX_ERROR = "melody:\n  name: x\nsteps:\n  - id: a\n   uses: shell.run\n"


class Result:
    """What a user sees: exit code, stdout and stderr."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr


Runner = Callable[..., Result]


def in_process(*args: str, cwd: Path) -> Result:
    import os

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, ["validate", *args])
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def as_subprocess(*args: str, cwd: Path) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "symphony_cli", "melody", "validate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(params=[in_process, as_subprocess], ids=["typer", "subprocess"])
def symphony_melody_validate(request: pytest.FixtureRequest) -> Runner:
    runner: Runner = request.param
    return runner


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    folder = ws / ".symphony" / "melodies"
    folder.mkdir(parents=True)
    (folder / "check.toml").write_text(VALID, encoding="utf-8")
    (folder / "broken.toml").write_text(BROKEN, encoding="utf-8")
    # SPEC §4's example with a step type no extension provides (llm.chat is built in now).
    unknown = SPEC_TOML.replace('"llm.chat"', '"oracle.ask"')
    (folder / "spec.toml").write_text(unknown, encoding="utf-8")
    (folder / "typo.yaml").write_text(YAML_SYNTAX_ERROR, encoding="utf-8")
    return ws


def test_a_valid_melody_by_name(workspace: Path, symphony_melody_validate: Runner) -> None:
    result = symphony_melody_validate("check", cwd=workspace)
    assert result.code == 0, result.stderr
    assert result.stdout == "check: valid (3 steps, 2 layers)\n"


def test_a_valid_melody_by_path_as_json(workspace: Path, symphony_melody_validate: Runner) -> None:
    path = workspace / ".symphony" / "melodies" / "check.toml"
    result = symphony_melody_validate(str(path), "--json", cwd=workspace.parent)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "valid": True,
        "melody": "check",
        "errors": [],
        "steps": 3,
        "layers": 2,
    }


def test_every_problem_with_file_location_and_reason(
    workspace: Path, symphony_melody_validate: Runner
) -> None:
    result = symphony_melody_validate("broken", cwd=workspace)
    assert result.code == 2
    assert result.stdout == ""
    file = ".symphony/melodies/broken.toml"
    assert result.stderr.splitlines() == [
        f"symphony: error: {file}: steps[0] (a).with.command: input 'command' of shell.run must"
        " be string, got an integer",
        f"symphony: error: {file}: steps[0] (a).with.cwdd: unknown input 'cwdd' for shell.run;"
        " did you mean 'cwd'? (inputs: command, cwd, env, timeout_s, check, stdin)",
        f"symphony: error: {file}: steps[1] (b).uses: unknown step type 'shell.rnu';"
        " did you mean 'shell.run'?",
        f"symphony: error: {file}: steps[0] (a): dependency cycle: a → b → a",
    ]


def test_errors_as_json(workspace: Path, symphony_melody_validate: Runner) -> None:
    result = symphony_melody_validate("spec", "--json", cwd=workspace)
    assert result.code == 2
    assert json.loads(result.stdout) == {
        "valid": False,
        "melody": "check",
        "errors": [
            {
                "file": ".symphony/melodies/spec.toml",
                "location": "steps[2] (explain).uses",
                "reason": "unknown step type 'oracle.ask': no available extension provides it",
            }
        ],
        "steps": 3,
        "layers": None,
    }


def test_a_syntax_error_gives_the_line(workspace: Path, symphony_melody_validate: Runner) -> None:
    result = symphony_melody_validate("typo", cwd=workspace)
    assert result.code == 2
    assert result.stderr.startswith("symphony: error: .symphony/melodies/typo.yaml: invalid YAML: ")
    assert "(at line 5, column 4)" in result.stderr
    as_json = symphony_melody_validate("typo", "--json", cwd=workspace)
    assert as_json.code == 2
    data = json.loads(as_json.stdout)
    assert data["valid"] is False and data["steps"] is None
    assert data["errors"][0]["location"] is None


def test_a_missing_melody_lists_the_available_ones(
    tmp_path: Path, workspace: Path, symphony_melody_validate: Runner
) -> None:
    result = symphony_melody_validate("chek", "-w", str(workspace), cwd=tmp_path)
    assert result.code == 2
    assert result.stderr == (
        "symphony: error: no melody named 'chek' (available: broken, check, spec, typo)\n"
    )
    missing = symphony_melody_validate("nowhere.toml", cwd=workspace)
    assert missing.code == 2
    assert missing.stderr == "symphony: error: nowhere.toml: no such file\n"


def test_params_are_checked(workspace: Path, symphony_melody_validate: Runner) -> None:
    ok = symphony_melody_validate("check", "--param", "level=3", "-p", "target=lib", cwd=workspace)
    assert ok.code == 0, ok.stderr
    # A string parameter keeps its text even when it reads as a number.
    assert symphony_melody_validate("check", "--param", "target=42", cwd=workspace).code == 0
    bad = symphony_melody_validate("check", "--param", "level=high", "-p", "x=1", cwd=workspace)
    assert bad.code == 2
    file = ".symphony/melodies/check.toml"
    assert bad.stderr.splitlines() == [
        f"symphony: error: {file}: params.level: the value given, 'high', is a string;"
        " the parameter is integer",
        f"symphony: error: {file}: params: parameter 'x' is given but not declared"
        " (parameters: target, level)",
    ]
    malformed = symphony_melody_validate("check", "--param", "level", cwd=workspace)
    assert malformed.code == 2
    assert malformed.stderr == "symphony: error: --param 'level': expected NAME=VALUE\n"


def test_a_disabled_extension_makes_its_step_types_unknown(
    workspace: Path, symphony_melody_validate: Runner
) -> None:
    config = workspace / ".symphony" / "config.toml"
    config.write_text('[extensions]\ndisabled = ["symphony.shell"]\n', encoding="utf-8")
    result = symphony_melody_validate("check", cwd=workspace)
    assert result.code == 2
    assert "steps[2] (notify).uses: unknown step type 'shell.run'" in result.stderr
