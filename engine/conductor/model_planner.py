"""Planning with an AI model (the maestro), falling back to the rules (SPEC §3.6).

:func:`plan_request` asks the configured model for a melody that serves a request: the prompt
lists the enabled step types with what they do and their inputs (MCP tools among them when
servers are attached), the rules a plan must follow (file changes are *proposed* with
``llm.edit`` and reviewed by the user, never written by a step) and the answer's JSON shape.
The answer is parsed strictly and checked with the real melody model and validator; when it
does not hold up, the model is told every problem once and asked again. When no model is
configured, the model fails, or its plan is still invalid, the rule-based planner
(:mod:`engine.conductor.planner`) plans instead and the plan says why.

This module runs nothing and writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.conductor.planner import Plan, classify, plan
from engine.melody.loader import melody_from_data
from engine.melody.validate import validate
from engine.types.errors import (
    MelodyError,
    MelodyErrors,
    ModelNotConfigured,
    PlanFailed,
    SymphonyError,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from engine.extensions.manifest import StepTypeSpec
    from engine.instruments.models import Models
    from engine.melody.model import Melody

__all__ = ["PlanFailed", "plan_request", "plan_with_model", "planning_prompt"]

log = logging.getLogger(__name__)

#: Step types a plan may not use: they write files or run arbitrary programs without review.
FORBIDDEN = frozenset({"fs.write", "shell.run", "git.commit", "python.call"})
#: Longest description of a step type's input shown to the model.
MAX_DESCRIPTION = 160
#: Workspace entries listed in the prompt (top level), for paths the model may name.
MAX_ENTRIES = 60

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def _describe(name: str, spec: StepTypeSpec) -> str:
    lines = [f"- {name}: {(spec.description or spec.title or '').strip()[:MAX_DESCRIPTION]}"]
    for key, field in spec.inputs.items():
        need = "required" if field.required else "optional"
        text = f"    {key} ({field.type}, {need})"
        if field.description:
            text += f": {field.description.strip()[:MAX_DESCRIPTION]}"
        lines.append(text)
    if spec.outputs:
        lines.append(f"    outputs: {', '.join(spec.outputs)}")
    return "\n".join(lines)


def planning_prompt(
    request: str, step_types: Mapping[str, StepTypeSpec], entries: Sequence[str]
) -> list[dict[str, str]]:
    """The messages that ask a model for a plan."""
    usable = {n: s for n, s in sorted(step_types.items()) if n not in FORBIDDEN}
    catalogue = "\n".join(_describe(n, s) for n, s in usable.items())
    system = (
        "You are the conductor of Symphony, a developer tool that runs workflows (melodies)"
        " of steps. Turn the user's request into a melody that uses ONLY these step types:\n"
        f"{catalogue}\n\n"
        "Rules:\n"
        "- Answer with one JSON object in a ```json fenced block and nothing else after it.\n"
        '- Shape: {"rationale": "why these steps", "steps": [{"id": "short-id", "uses":'
        ' "step.type", "with": {...inputs...}, "needs": ["ids of earlier steps"]}]}\n'
        "- Step ids: letters, digits, '-' and '_', starting with a letter; unique.\n"
        "- Give every required input. Paths are relative to the workspace root.\n"
        "- To change files use llm.edit with `files` and an `instruction`: it only proposes"
        " changes, which the user reviews before anything is written. Never write files any"
        " other way (no `fix` options).\n"
        "- A step may use another's output with the text ${steps.ID.outputs.NAME} in a value.\n"
        "- A step type marked [may change things …] acts outside the user's review: use it"
        " only when the request asks for what it does.\n"
        "- Keep plans small: only the steps the request needs."
    )
    listing = "\n".join(entries) if entries else "(empty)"
    user = f"Workspace top level:\n{listing}\n\nRequest: {request}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _json_of(text: str) -> dict[str, Any]:
    match = _FENCE.search(text)
    candidate = match.group(1) if match else text[text.find("{") : text.rfind("}") + 1]
    try:
        data = json.loads(candidate)
    except ValueError as e:
        raise PlanFailed(f"the answer is not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise PlanFailed('the answer has no "steps" list')
    return data


def _melody_of(
    data: dict[str, Any], request: str, step_types: Mapping[str, StepTypeSpec]
) -> Melody:
    steps = data["steps"]
    used = {s.get("uses") for s in steps if isinstance(s, dict)}
    bad = sorted(u for u in used if isinstance(u, str) and u in FORBIDDEN)
    if bad:
        raise PlanFailed(f"the plan uses {', '.join(bad)}, which plans may not use")
    fixing = [
        s.get("id", "?")
        for s in steps
        if isinstance(s, dict) and isinstance(s.get("with"), dict) and s["with"].get("fix")
    ]
    if fixing:
        raise PlanFailed(
            f"step {fixing[0]} asks for fix = true, which writes files without review;"
            " propose changes with llm.edit instead"
        )
    document = {
        "melody": {"name": "ask", "description": f"ask: {request}"[:300]},
        "steps": steps,
    }
    source = "<model plan>"
    melody = melody_from_data(document, source=source)
    problems = validate(melody, source=source, step_types=step_types)
    if problems:
        raise MelodyErrors(problems)
    return melody


def _entries(workspace: Path) -> list[str]:
    try:
        names = sorted(
            (p.name + ("/" if p.is_dir() else "") for p in workspace.iterdir()),
            key=str.lower,
        )
    except OSError:
        return []
    return [n for n in names if not n.startswith(".")][:MAX_ENTRIES]


def plan_with_model(
    request: str,
    *,
    workspace: Path,
    step_types: Mapping[str, StepTypeSpec],
    models: Models,
    model: str | None = None,
    cancel: threading.Event | None = None,
) -> Plan:
    """A plan from the model (one repair round when its first answer is invalid).

    Raises:
        ModelNotConfigured: no model.
        ModelError, ModelUnavailable, Cancelled: the model call failed.
        PlanFailed: the answers could not be made into a valid melody.
    """
    name = models.resolve(model)
    messages = planning_prompt(request, step_types, _entries(workspace))
    problem = ""
    for attempt in range(2):
        result = models.chat(messages, model=name, cancel=cancel, params={"temperature": 0})
        try:
            data = _json_of(result.text)
            melody = _melody_of(data, request, step_types)
        except (PlanFailed, MelodyError) as e:
            problem = str(e)
            log.info("model %s plan attempt %d invalid: %s", name, attempt + 1, problem)
            messages = [
                *messages,
                {"role": "assistant", "content": result.text},
                {
                    "role": "user",
                    "content": f"That plan is not valid:\n{problem}\nAnswer again with a"
                    " corrected JSON plan only.",
                },
            ]
            continue
        rationale = str(data.get("rationale") or "").strip()
        why = f"planned by model {name}" + (f": {rationale}" if rationale else "")
        return Plan(request, melody, tuple(classify(request, workspace=workspace)), why)
    raise PlanFailed(f"model {name} did not give a valid plan: {problem}")


def plan_request(
    request: str,
    *,
    workspace: Path,
    step_types: Mapping[str, StepTypeSpec],
    models: Models,
    model: str | None = None,
    cancel: threading.Event | None = None,
) -> Plan:
    """The maestro's plan: the model's when a model is configured and answers with a valid
    plan, else the rules' (whose rationale then says why the model did not plan)."""
    note = ""
    if models.configured:
        try:
            return plan_with_model(
                request,
                workspace=workspace,
                step_types=step_types,
                models=models,
                model=model,
                cancel=cancel,
            )
        except ModelNotConfigured as e:
            note = f"no model planned ({e}); planned with rules"
        except SymphonyError as e:
            if e.code == "cancelled":
                raise
            note = f"the model could not plan ({e}); planned with rules"
    fallback = plan(request, workspace=workspace, step_types=step_types, models=models.names())
    if note:
        rationale = f"{note}\n{fallback.rationale}" if fallback.rationale else note
        fallback = replace(fallback, rationale=rationale)
    return fallback
