"""Benchmark of the melody definition layer on a generated 10,000-step no-op melody (SPEC §4, §7).

The melody is a random DAG with a fixed seed: each step depends on about two earlier steps, one
through ``needs`` and one through a ``${steps.X.outputs.n}`` reference; every tenth step also
has a ``when`` condition. Figures, each next to a baseline measured in the same run on the same
graph (best of several repetitions):

* load: ``load_melody`` of the melody's JSON file (read, parse, pydantic model) vs ``json.loads``
  of the same text;
* validate: ``validate`` against the step type (references, inputs, conditions, cycles) vs
  ``graphlib.TopologicalSorter.static_order`` on the bare dependency graph;
* graph: ``Dag.from_melody`` with its order and layers vs the same ``graphlib`` order.

Run with ``python -m bench.bench_melody``. Nothing here fails on timing.
"""

from __future__ import annotations

import graphlib
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Figure, print_table
from engine.extensions.manifest import StepTypeSpec
from engine.melody import Dag, Melody, load_melody, validate
from engine.melody.dag import step_dependencies

STEPS = 10_000
DEPS = 2
SEED = 20_240_501
REPEATS = 5

NOOP = StepTypeSpec.model_validate(
    {
        "type": "bench.noop",
        "inputs": {"n": {"type": "integer", "default": 0}, "label": {"type": "string"}},
        "outputs": {"n": {"type": "integer"}},
    }
)


def generate(steps: int = STEPS, deps: int = DEPS, seed: int = SEED) -> dict[str, Any]:
    """The melody's data: ``steps`` no-op steps, each depending on up to ``deps`` earlier ones."""
    rng = random.Random(seed)
    ids = [f"s{i:05d}" for i in range(steps)]
    out: list[dict[str, Any]] = []
    for i, step_id in enumerate(ids):
        step: dict[str, Any] = {"id": step_id, "uses": "bench.noop", "with": {"n": i}}
        parents = rng.sample(ids[:i], min(deps, i))
        if parents:
            step["needs"] = parents[:1]
        if len(parents) > 1:
            step["with"] = {"n": f"${{steps.{parents[1]}.outputs.n}}", "label": f"step {i}"}
        if parents and i % 10 == 0:
            step["when"] = f"steps.{parents[0]}.outputs.n >= 0 and params.go == True"
        out.append(step)
    return {
        "melody": {"name": "bench", "description": f"{steps} generated no-op steps"},
        "params": {"go": {"type": "boolean", "default": True}},
        "steps": out,
    }


def _best_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def run() -> list[Figure]:
    data = generate()
    text = json.dumps(data)
    melody = Melody.model_validate(data)
    graph = {s.id: step_dependencies(s) for s in melody.steps}
    types = {"bench.noop": NOOP}
    edges = sum(len(d) for d in graph.values())

    def check() -> None:
        errors = validate(melody, source="bench.json", step_types=types)
        assert not errors, errors[:3]

    def dag() -> None:
        d = Dag.from_melody(melody)
        _ = d.order, d.layers

    def toposort() -> None:
        list(graphlib.TopologicalSorter(graph).static_order())

    with tempfile.TemporaryDirectory(prefix="symphony-bench-melody-") as tmp:
        path = Path(tmp) / "bench.json"
        path.write_text(text, encoding="utf-8")
        load_ms = _best_ms(lambda: load_melody(path))
        json_ms = _best_ms(lambda: json.loads(path.read_text(encoding="utf-8")))
    validate_ms = _best_ms(check)
    dag_ms = _best_ms(dag)
    graphlib_ms = _best_ms(toposort)
    name = f"{STEPS:,} steps, {edges:,} edges"
    return [
        Figure(f"load_melody ({name})", load_ms, "ms", "json.loads of the file", json_ms),
        Figure(f"validate ({name})", validate_ms, "ms", "graphlib static_order", graphlib_ms),
        Figure("Dag build + order + layers", dag_ms, "ms", "graphlib static_order", graphlib_ms),
    ]


if __name__ == "__main__":
    print_table("melody definitions", run())
