"""Benchmark of extension calls: what the manager adds around a step (SPEC §7).

Figures, each next to a baseline measured in the same run:

* a no-op step through ``ExtensionManager.call`` (input and output checks, scratch folder,
  permission guard, cancel timer, metrics and the audit flush with one call record in SQLite)
  vs calling the same Python method directly;
* ``shell.run`` of ``true`` through the manager (permission check, audited process start,
  output threads) vs ``subprocess.run(["/bin/sh", "-c", "true"])``;
* start-up: discovering, pinning and loading the built-in extensions
  (``ExtensionManager.start``) vs importing their modules alone.

Run with ``python -m bench.bench_extensions``. Nothing here fails on timing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, percentile, print_table
from engine.extensions.discovery import discover
from engine.extensions.manager import ExtensionManager
from engine.extensions.store import ExtensionsDB

CALLS = 2_000
SHELL_CALLS = 200

NOOP = """
from symphony_sdk import Operator, step


class Noop(Operator):
    @step("bench.noop")
    def run(self, ctx, inputs):
        return {"n": inputs["n"]}
"""

MANIFEST = """
[extension]
id = "bench.noop"
name = "no-op"
version = "1.0.0"
type = "operator"
entry = "bench_noop_ext:Noop"

[runtime]
isolation = "in-process"  # the manager's own overhead; bench_ext_host measures hosting

[[contributes.steps]]
type = "bench.noop"
[contributes.steps.inputs]
n = { type = "integer", required = true }
[contributes.steps.outputs]
n = { type = "integer" }
"""


def _no_store() -> Any:
    raise RuntimeError("the benchmark stores no artifacts")


def _samples(fn: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="symphony-bench-ext-") as tmp:
        root = Path(tmp)
        ext = root / "exts" / "noop"
        ext.mkdir(parents=True)
        (ext / "symphony-extension.toml").write_text(textwrap.dedent(MANIFEST))
        (ext / "bench_noop_ext.py").write_text(textwrap.dedent(NOOP))
        workspace = root / "ws"
        workspace.mkdir()
        db = ExtensionsDB(root / "extensions.db")

        t0 = time.perf_counter()
        manager = ExtensionManager(workspace, discover([root / "exts"]), db=db, store=_no_store)
        manager.start()
        start_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import extensions.shell, extensions.fs, extensions.git, extensions.pytest_run,"
                " extensions.ruff_check, extensions.python_call, bench_noop_ext",
            ],
            check=True,
            cwd=ext,
        )
        import_ms = (time.perf_counter() - t0) * 1000
        # (the import baseline includes starting an interpreter: measure that alone too)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        import_ms -= (time.perf_counter() - t0) * 1000

        try:
            manager.call("bench.noop", {"n": 0})
            handler = manager._records["bench.noop"].handlers["bench.noop"]
            direct = _samples(lambda i: handler(None, {"n": i}), CALLS)
            through = _samples(lambda i: manager.call("bench.noop", {"n": i}), CALLS)
            manager.call("shell.run", {"command": "true"})
            shell = _samples(lambda i: manager.call("shell.run", {"command": "true"}), SHELL_CALLS)
            plain = _samples(
                lambda i: subprocess.run(["/bin/sh", "-c", "true"], check=True), SHELL_CALLS
            )
        finally:
            manager.stop()
            db.close()
    return [
        Figure(
            "no-op step call p50",
            percentile(through, 50),
            "µs",
            "direct method call p50",
            percentile(direct, 50),
        ),
        Figure(
            "no-op step call p99",
            percentile(through, 99),
            "µs",
            "direct method call p99",
            percentile(direct, 99),
        ),
        Figure(
            "shell.run 'true' p50",
            percentile(shell, 50) / 1000,
            "ms",
            "subprocess.run p50",
            percentile(plain, 50) / 1000,
        ),
        Figure(
            "start: discover+pin+load",
            start_ms,
            "ms",
            "import the modules",
            max(import_ms, 0.001),
        ),
    ]


if __name__ == "__main__":
    print_table("extensions", run())
