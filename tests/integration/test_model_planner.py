"""The maestro's planner: a real model server plans, the real validator checks, the rules take
over when the model cannot."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from engine.conductor.model_planner import FORBIDDEN, plan_request
from engine.melody.model import Melody
from engine.runs.messages import PlanRequest
from engine.runtime import Engine
from tests.support.model_server import Behaviour, ModelServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def fenced(data: dict[str, Any]) -> str:
    return "Here is the plan.\n```json\n" + json.dumps(data) + "\n```\n"


GOOD = {
    "rationale": "lint first, then test",
    "steps": [
        {"id": "lint", "uses": "ruff.check", "with": {"paths": ["src"]}},
        {"id": "test", "uses": "pytest.run", "with": {"paths": ["tests"]}, "needs": ["lint"]},
    ],
}


@pytest.fixture
def engine(tmp_path: Path, server: ModelServer) -> Iterator[Engine]:
    (tmp_path / "src").mkdir()
    overrides = [
        f"aide.models.local.base_url={server.base_url}",
        "aide.models.local.model=planner",
        "aide.models.local.max_retries=0",
        "aide.models.local.timeout_s=5",
    ]
    with Engine(tmp_path, overrides=overrides, watch_config=False) as e:
        yield e


def plan_for(engine: Engine, request: str) -> Any:
    step_types = {t: p[0][1] for t, p in engine.extensions.step_types().items() if p}
    return plan_request(
        request, workspace=engine.workspace, step_types=step_types, models=engine.models
    )


def test_the_model_plans_with_the_step_catalogue(engine: Engine, server: ModelServer) -> None:
    server.then(Behaviour(text=fenced(GOOD)))
    result = plan_for(engine, "lint src and run the tests")
    assert result.melody is not None
    assert [(s.id, s.uses, s.needs) for s in result.melody.steps] == [
        ("lint", "ruff.check", []),
        ("test", "pytest.run", ["lint"]),
    ]
    assert result.rationale == "planned by model local: lint first, then test"
    sent = server.requests[0].body
    system = sent["messages"][0]["content"]
    assert "- pytest.run:" in system and "paths" in system
    assert not any(f"- {name}:" in system for name in FORBIDDEN)
    assert "src/" in sent["messages"][1]["content"]  # the workspace listing
    assert sent["temperature"] == 0


def test_an_invalid_plan_is_repaired_once(engine: Engine, server: ModelServer) -> None:
    bad = {"steps": [{"id": "t", "uses": "no.such"}]}
    server.then(Behaviour(text=fenced(bad)), Behaviour(text=fenced(GOOD)))
    result = plan_for(engine, "run the tests")
    assert result.melody is not None and result.melody.steps[0].id == "lint"
    repair = server.requests[1].body["messages"]
    assert repair[-1]["role"] == "user" and "no.such" in repair[-1]["content"]


def test_rules_take_over_when_the_model_fails(engine: Engine, server: ModelServer) -> None:
    writes = {"steps": [{"id": "w", "uses": "fs.write", "with": {"path": "x", "content": ""}}]}
    server.then(Behaviour(text=fenced(writes)), Behaviour(text="no json at all"))
    result = plan_for(engine, "run the tests")
    assert result.melody is not None and [s.uses for s in result.melody.steps] == ["pytest.run"]
    assert result.rationale.startswith("the model could not plan")
    assert "not JSON" in result.rationale
    server.then(Behaviour(status=500, message="boom"))
    result = plan_for(engine, "run the tests")
    assert "HTTP 500" in result.rationale and result.melody is not None


def test_without_a_model_the_rules_plan(tmp_path: Path) -> None:
    with Engine(tmp_path, watch_config=False) as e:
        reply = e.send(PlanRequest(request="run the tests"))
    assert json.loads(reply.definition)["steps"][0]["uses"] == "pytest.run"
    assert "model" not in reply.rationale


def test_plan_request_on_the_bus_uses_the_model(engine: Engine, server: ModelServer) -> None:
    server.then(Behaviour(text=fenced(GOOD)))
    reply = engine.send(PlanRequest(request="check everything"))
    melody = Melody.model_validate_json(reply.definition)
    assert [s.id for s in melody.steps] == ["lint", "test"]
    assert reply.rationale.startswith("planned by model local")


def test_a_plan_that_fixes_files_without_review_is_refused(
    engine: Engine, server: ModelServer
) -> None:
    fixing = {"steps": [{"id": "fix", "uses": "ruff.check", "with": {"paths": ["."], "fix": True}}]}
    server.then(Behaviour(text=fenced(fixing)), Behaviour(text=fenced(fixing)))
    result = plan_for(engine, "run the tests")
    assert "fix = true" in result.rationale and "planned with rules" in result.rationale
    repair = server.requests[1].body["messages"][-1]["content"]
    assert "writes files without review" in repair
