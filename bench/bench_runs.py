"""Benchmark of melody runs: scheduling overhead per step on a 10,000-step no-op melody (SPEC §7).

The melody is :func:`bench.bench_melody.generate`'s (about two dependencies per step, some
conditions and references). Its step type is a no-op operator, so the time measured is the
runner's own: readiness, conditions, reference resolution, the cache key, the conductor and the
extension manager (input/output checks, permission guard, metrics), the outputs stored as an
artifact and the state persisted. The baseline is ``dask.threaded.get`` running the same graph
of no-op functions with the same number of workers, in the same process.

Each step's outputs are unique (a random token), as real outputs are: identical outputs would
all be one artifact gathering ten thousand names and producers, which is not what runs produce.

Figures: per-step time of a first run, of a second run (every step cached), and of Dask.
Run with ``python -m bench.bench_runs``. Nothing here fails on timing.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.bench_melody import generate
from bench.common import Figure, print_table
from engine.conductor.conductor import Conductor
from engine.config import ArtifactRetention
from engine.extensions.discovery import discover
from engine.extensions.manager import ExtensionManager
from engine.melody.loader import melody_from_data
from engine.pit.artifacts.store import ArtifactStore
from engine.runs.scheduler import MelodyRun
from engine.runs.store import RunStore

STEPS = int(os.environ.get("BENCH_RUN_STEPS", "10000"))  # smaller for a quick look
WORKERS = 4

NOOP = """
import uuid

from symphony_sdk import Operator, step


class Noop(Operator):
    @step("bench.noop")
    def run(self, ctx, inputs):
        return {"n": inputs["n"], "token": uuid.uuid4().hex}
"""

MANIFEST = """
[extension]
id = "bench.noop"
name = "no-op"
version = "1.0.0"
type = "operator"
entry = "bench_runs_noop:Noop"

[[contributes.steps]]
type = "bench.noop"
[contributes.steps.inputs]
n = { type = "integer", default = 0 }
label = { type = "string" }
[contributes.steps.outputs]
n = { type = "integer" }
token = { type = "string" }
"""


def _dask_seconds(data: dict[str, Any]) -> float:
    import dask.threaded
    from dask.core import get_dependencies  # noqa: F401 - fail early if dask is incomplete

    def noop(*_args: Any) -> int:
        return 0

    graph: dict[str, Any] = {}
    for step in data["steps"]:
        deps = list(step.get("needs", []))
        n = step.get("with", {}).get("n")
        if isinstance(n, str) and n.startswith("${steps."):
            deps.append(n[len("${steps.") :].split(".")[0])
        graph[step["id"]] = (noop, *deps)
    t0 = time.perf_counter()
    dask.threaded.get(graph, list(graph), num_workers=WORKERS)
    return time.perf_counter() - t0


def run() -> list[Figure]:
    data = generate(STEPS)
    melody = melody_from_data(data, source="bench")
    with tempfile.TemporaryDirectory(prefix="symphony-bench-runs-") as tmp:
        root = Path(tmp)
        ext = root / "exts" / "noop"
        ext.mkdir(parents=True)
        (ext / "symphony-extension.toml").write_text(textwrap.dedent(MANIFEST))
        (ext / "bench_runs_noop.py").write_text(textwrap.dedent(NOOP))
        ws = root / "ws"
        ws.mkdir()
        store = RunStore(ws / ".symphony" / "runs.db")
        artifacts = ArtifactStore.for_workspace(ws, ArtifactRetention())
        manager = ExtensionManager(
            ws, discover([root / "exts"], builtin=False, packages=False), db=None, store=_none
        )
        manager.start()
        conductor = Conductor(manager, store)

        def once() -> tuple[float, dict[str, int]]:
            job = MelodyRun(
                workspace=ws,
                melody=melody,
                source="bench",
                store=store,
                dispatcher=conductor,
                step_types=manager.step_types(),
                versions={"bench.noop": "1.0.0"},
                artifacts=lambda: artifacts,
                emit=lambda _e: None,
                concurrency=WORKERS,
            )
            job.create({})
            t0 = time.perf_counter()
            summary = job.execute()
            return time.perf_counter() - t0, summary.counts()

        try:
            first, counts1 = once()
            second, counts2 = once()
        finally:
            manager.stop()
            artifacts.close()
            store.close()
    dask_s = _dask_seconds(data)
    per = 1e6 / STEPS
    print(f"  (first run: {counts1}; second run: {counts2})")
    return [
        Figure(
            "run, per step (first run)",
            first * per,
            "µs",
            "dask.threaded.get per step",
            dask_s * per,
        ),
        Figure(
            "run, per step (all cached)",
            second * per,
            "µs",
            "dask.threaded.get per step",
            dask_s * per,
        ),
    ]


def _none() -> Any:
    raise RuntimeError("unused")


if __name__ == "__main__":
    print_table(f"melody runs ({STEPS:,} no-op steps, {WORKERS} workers)", run())
