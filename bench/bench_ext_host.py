"""Benchmark of extensions in their own process (issue 6, SPEC §7).

Figures, each next to a baseline measured in the same run:

* a no-op step call to an extension in its own (sandboxed, where bubblewrap works) host
  process vs the same extension in-process, both through ``ExtensionManager.call``;
* a permission-checked 64 KiB file read through the extension API from inside the host
  (``ctx.fs.read_bytes``: one IPC round trip, the guard, the audit record) vs a direct
  ``open().read()`` of the same file;
* starting a host (process start, connection, import of the extension) vs starting a bare
  ``python -c pass``.

Run with ``python -m bench.bench_ext_host``. Nothing here fails on timing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, percentile, print_table
from engine.extensions.discovery import discover
from engine.extensions.host import sandbox_problem
from engine.extensions.manager import ExtensionManager
from engine.extensions.store import ExtensionsDB

TITLE = "extension host process"
CALLS = 1_000
READS = 500

CODE = """
import time
from symphony_sdk import Operator, step


class Probe(Operator):
    @step("{p}.noop")
    def noop(self, ctx, inputs):
        return {{"n": inputs["n"]}}

    @step("{p}.reads")
    def reads(self, ctx, inputs):
        times = []
        for _ in range(inputs["n"]):
            t0 = time.perf_counter()
            ctx.fs.read_bytes("data.bin")
            times.append((time.perf_counter() - t0) * 1e6)
        times.sort()
        return {{"p50_us": times[len(times) // 2]}}
"""

MANIFEST = """
[extension]
id = "{p}.probe"
name = "probe"
version = "1.0.0"
type = "operator"
entry = "{p}_probe:Probe"

[runtime]
isolation = "{isolation}"

[permissions]
fs = {{ read = ["data.bin"] }}

[[contributes.steps]]
type = "{p}.noop"
[contributes.steps.inputs]
n = {{ type = "integer", required = true }}
[contributes.steps.outputs]
n = {{ type = "integer" }}

[[contributes.steps]]
type = "{p}.reads"
[contributes.steps.inputs]
n = {{ type = "integer", required = true }}
[contributes.steps.outputs]
p50_us = {{ type = "number" }}
"""


def _write(root: Path, prefix: str, isolation: str) -> None:
    folder = root / prefix
    folder.mkdir(parents=True)
    (folder / "symphony-extension.toml").write_text(
        textwrap.dedent(MANIFEST.format(p=prefix, isolation=isolation))
    )
    (folder / f"{prefix}_probe.py").write_text(textwrap.dedent(CODE.format(p=prefix)))


def _p50(fn: Any, n: int) -> float:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1e6)
    return percentile(sorted(samples), 50)


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="symphony-bench-host-") as tmp:
        root = Path(tmp)
        workspace = root / "ws"
        workspace.mkdir()
        data = workspace / "data.bin"
        data.write_bytes(b"x" * 65536)
        _write(root / "exts", "hosted", "process")
        _write(root / "exts", "local", "in-process")
        db = ExtensionsDB(root / "extensions.db")
        manager = ExtensionManager(
            workspace,
            discover([root / "exts"], builtin=False, packages=False),
            db=db,
            store=lambda: None,  # type: ignore[arg-type, return-value]
        )
        t0 = time.perf_counter()
        manager.start()
        manager.call("hosted.noop", {"n": 0})
        start_ms = (time.perf_counter() - t0) * 1000
        starts = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            starts.append((time.perf_counter() - t0) * 1000)
        try:
            manager.call("local.noop", {"n": 0})
            hosted = _p50(lambda i: manager.call("hosted.noop", {"n": i}), CALLS)
            local = _p50(lambda i: manager.call("local.noop", {"n": i}), CALLS)
            api_read = manager.call("hosted.reads", {"n": READS}).outputs["p50_us"]

            def direct_read(_i: int) -> None:
                with data.open("rb") as f:
                    f.read()

            direct = _p50(direct_read, READS)
        finally:
            manager.stop()
            db.close()
    sandbox = "sandboxed" if sandbox_problem() is None else "unsandboxed"
    return [
        Figure(
            f"no-op step call, own process ({sandbox}) p50",
            hosted,
            "µs",
            "same call, in-process",
            local,
        ),
        Figure("64 KiB ctx.fs.read_bytes in a host, p50", api_read, "µs", "open().read()", direct),
        Figure(
            "host start + load + first call",
            start_ms,
            "ms",
            "python -c pass",
            statistics.median(starts),
        ),
    ]


if __name__ == "__main__":
    print_table(TITLE, run())
