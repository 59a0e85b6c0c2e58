"""The maestro end to end, as a user runs it: ``symphony ask`` planned by a real model server,
run as a melody (``llm.edit`` proposes, ``pytest.run`` tests), the change shown or applied behind
a checkpoint, and ``symphony undo`` restoring the file byte for byte."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.test_cli import symphony
from tests.support.model_server import ModelServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CALC = "def add(a, b):\n    return a + b\n"
TYPED = "def add(a: int, b: int) -> int:\n    return a + b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
PLAN = {
    "rationale": "edit calc.py, then run the tests",
    "steps": [
        {
            "id": "hints",
            "uses": "llm.edit",
            "with": {"instruction": "add type hints", "files": ["calc.py"]},
        },
        {"id": "test", "uses": "pytest.run", "with": {"paths": ["."]}, "needs": ["hints"]},
    ],
}


def respond(body: dict[str, Any]) -> str:
    """The planner gets the plan; the edit step gets calc.py with type hints."""
    system = body["messages"][0]["content"] if body["messages"] else ""
    if "conductor of Symphony" in system:
        return "```json\n" + json.dumps(PLAN) + "\n```"
    return f"Added type hints.\n=== FILE: calc.py ===\n{TYPED}=== END FILE ===\n"


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as s:
        s.responder = respond
        yield s


@pytest.fixture
def project(tmp_path: Path, server: ModelServer) -> Path:
    ws = tmp_path / "proj"
    (ws / ".symphony").mkdir(parents=True)
    (ws / "calc.py").write_text(CALC)
    (ws / "test_calc.py").write_text(TEST)
    (ws / ".symphony" / "config.toml").write_text(
        f'[aide.models.local]\nbase_url = "{server.base_url}"\nmodel = "m"\n'
    )
    return ws


def test_ask_shows_the_proposed_change_and_writes_nothing(
    project: Path, server: ModelServer
) -> None:
    result = symphony("ask", "add type hints to calc.py and run the tests", "--yes", cwd=project)
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2  # the plan, the edit
    assert "planned by model local: edit calc.py, then run the tests" in result.stderr
    assert "+def add(a: int, b: int) -> int:" in result.stdout
    assert "-def add(a, b):" in result.stdout
    assert "not applied" in result.stderr
    assert (project / "calc.py").read_text() == CALC
    # Asked again with nothing changed, only the planner is called: the edit is a cache hit.
    again = symphony("ask", "add type hints to calc.py and run the tests", "--yes", cwd=project)
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == 3


def test_ask_apply_then_undo_restores_the_file(project: Path, server: ModelServer) -> None:
    before = (project / "calc.py").read_bytes()
    result = symphony(
        "ask", "add type hints to calc.py and run the tests", "--yes", "--apply", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert (project / "calc.py").read_text() == TYPED
    assert "symphony undo" in result.stderr
    undone = symphony("undo", cwd=project)
    assert undone.returncode == 0, undone.stderr
    assert "restored calc.py" in undone.stdout
    assert (project / "calc.py").read_bytes() == before
    nothing = symphony("undo", cwd=project)
    assert nothing.returncode == 2 and "nothing to undo" in nothing.stderr


def test_without_a_model_ask_explains_and_plans_with_rules(tmp_path: Path) -> None:
    ws = tmp_path / "bare"
    ws.mkdir()
    result = symphony("ask", "explain calc.py", "--dry-run", cwd=ws)
    assert result.returncode == 2
    assert "symphony models add" in result.stderr or "aide.models" in result.stderr


def test_ask_apply_writes_nothing_when_the_run_fails(project: Path, server: ModelServer) -> None:
    failing = {**PLAN, "steps": [*PLAN["steps"], {"id": "status", "uses": "git.status"}]}

    def respond_failing(body: dict[str, Any]) -> str:  # git.status fails: no repository
        if "conductor of Symphony" in body["messages"][0]["content"]:
            return "```json\n" + json.dumps(failing) + "\n```"
        return respond(body)

    server.responder = respond_failing
    before = (project / "calc.py").read_bytes()
    result = symphony(
        "ask", "add type hints to calc.py and run the tests", "--yes", "--apply", cwd=project
    )
    assert result.returncode == 1, result.stderr
    assert "its proposed changes are shown, not applied" in result.stderr
    assert "+def add(a: int, b: int) -> int:" in result.stdout  # the diff, for the record
    assert (project / "calc.py").read_bytes() == before
    assert symphony("undo", "--list", cwd=project).stdout.strip() in ("", "no checkpoints")
