"""Built-in ``pytest.run`` operator: run a project's tests and report every result as data.

The tests run in a child ``python -m pytest``. A small recording plugin (``report_plugin.py``,
copied into the step's scratch folder and loaded with ``-p``) writes exact node ids and outcomes
to a JSON-lines file, so the step never parses pytest's terminal output or depends on junitxml.
The user's pytest configuration is left alone; the step only adds ``--color=no``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extensions.pytest_run.report_plugin import REPORT_ENV
from extensions.pytest_run.results import (
    PROBLEMS,
    RunRecords,
    format_report,
    format_summary,
    tail_lines,
)
from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping

    from symphony_sdk import ProcessResult, StepContext

__all__ = ["PytestFailed", "PytestNotRun", "PytestOperator", "PytestTimedOut", "default_python"]

PLUGIN_MODULE = "symphony_pytest_report"
OUTPUT_LINES = 200
DETAIL_LINES = 60
POLL_S = 0.2

# pytest's exit codes; every other one (2 interrupted, 3 internal, 4 usage, signals) is "error".
STATUS_BY_EXIT = {0: "passed", 1: "failed", 5: "no_tests"}
EXIT_NAMES = {2: "interrupted", 3: "internal error", 4: "usage error"}


class PytestFailed(Exception):
    """Tests failed or errored and the step checks the result (``check = true``)."""


class PytestTimedOut(Exception):
    """The run passed ``timeout_s``; pytest was stopped and its partial results dropped."""


class PytestNotRun(Exception):
    """The interpreter could not be started or did not run pytest at all."""


def default_python(workspace: Path) -> str:
    """The interpreter that runs the tests: the workspace's ``.venv`` one, else Symphony's own.

    The check goes around ``ctx.fs`` on purpose: a venv's ``python`` is a symlink to an
    interpreter outside the workspace, which the permission guard (resolving links) refuses,
    and only the link's own path makes Python find the venv's packages.
    """
    venv = workspace / ".venv" / "bin" / "python"
    if venv.exists() and os.access(venv, os.X_OK):
        return str(venv)
    return sys.executable


class PytestOperator(Operator):
    """Run pytest in the workspace."""

    @step("pytest.run")
    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        env = _string_map(inputs["env"] or {})
        paths: list[str] = list(inputs["paths"])
        for path in paths:
            _check_path(ctx, path)
        python = _interpreter(ctx, inputs["python"])
        plugin = (Path(__file__).parent / "report_plugin.py").read_text(encoding="utf-8")
        ctx.fs.write_text(str(ctx.scratch / f"{PLUGIN_MODULE}.py"), plugin)
        report_file = ctx.scratch / "report.jsonl"
        inherited = env["PYTHONPATH"] if "PYTHONPATH" in env else ctx.getenv("PYTHONPATH") or ""
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ctx.scratch), inherited) if p)
        env[REPORT_ENV] = str(report_file)
        argv = [python, "-m", "pytest", "-p", PLUGIN_MODULE, "--color=no", *paths]
        argv += list(inputs["args"])
        records = RunRecords(report_file)
        try:
            with _Follower(ctx, records):
                result = ctx.run(argv, env=env, timeout=inputs["timeout_s"])
        except OSError as e:
            raise PytestNotRun(f"cannot start {python}: {e.strerror or e}") from e
        records.poll()
        if result.timed_out:
            raise PytestTimedOut(_timeout_message(records, inputs["timeout_s"], ctx.workspace))
        outputs = _outputs(ctx, result, records, python)
        ctx.progress(1.0, outputs["summary"])
        if inputs["check"] and outputs["status"] in ("failed", "error"):
            raise PytestFailed(_failed_message(outputs))
        return outputs


def _string_map(env: Mapping[str, Any]) -> dict[str, str]:
    bad = [k for k, v in env.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"env value of {bad[0]!r} must be a string")
    return dict(env)


def _check_path(ctx: StepContext, path: str) -> None:
    """Refuse options passed as paths and paths the extension may not read."""
    if path.startswith("-"):
        raise ValueError(f"path {path!r} looks like an option; pass options in `args`")
    file_part = path.partition("::")[0]  # node ids: tests/test_a.py::test_x[param]
    ctx.fs.path(file_part or ".")


def _interpreter(ctx: StepContext, given: str | None) -> str:
    if not given:
        return default_python(ctx.workspace)
    if "/" in given and not Path(given).is_absolute():
        return str(ctx.workspace / given)  # .venv/bin/python: relative to the workspace
    return given


def _outputs(
    ctx: StepContext, result: ProcessResult, records: RunRecords, python: str
) -> dict[str, Any]:
    code = result.returncode
    if not records.started and not (2 <= code <= 4):
        # Usage and start-up errors (2-4) come from pytest itself; anything else means it
        # never ran: no pytest in that interpreter, or not a Python at all.
        why = _last_line(result.stderr) or _last_line(result.stdout) or f"exit status {code}"
        raise PytestNotRun(f"pytest did not run with {python}: {why}")
    status = STATUS_BY_EXIT.get(code, "error")
    tests = [
        entry.as_output(records.relative_nodeid(entry.nodeid, ctx.workspace))
        for entry in records.tests.values()
    ]
    failures = [t for t in tests if t["outcome"] in PROBLEMS]
    counts = records.counts()
    note = ""
    if status == "error":
        note = f"killed by signal {-code}" if code < 0 else EXIT_NAMES.get(code, f"exit {code}")
    summary = format_summary(counts, result.duration_s, note)
    output = tail_lines(result.stdout, OUTPUT_LINES)
    if result.stderr.strip():
        output += "\n[stderr]\n" + tail_lines(result.stderr, OUTPUT_LINES)
    detail = tail_lines(output, DETAIL_LINES) if status == "error" and not failures else ""
    return {
        "status": status,
        "exit_code": code,
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errors": counts["error"],
        "skipped": counts["skipped"],
        "xfailed": counts["xfailed"],
        "xpassed": counts["xpassed"],
        "duration_s": result.duration_s,
        "tests": tests,
        "failures": failures,
        "summary": summary,
        "output": output,
        "report": format_report(summary, status, code, failures, detail),
    }


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _timeout_message(records: RunRecords, timeout_s: float, workspace: Path) -> str:
    done = records.finished_count
    total = f" of {records.collected}" if records.collected is not None else ""
    running = records.running
    if running is not None and running in records.tests and records.tests[running].finished:
        running = None
    where = f" while running {records.relative_nodeid(running, workspace)}" if running else ""
    return f"pytest timed out after {timeout_s:g} s{where} ({done}{total} tests finished)"


def _failed_message(outputs: Mapping[str, Any]) -> str:
    # The first line is what the user sees in the step's error; keep it complete.
    failures = outputs["failures"]
    names = ", ".join(f["nodeid"] for f in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    listed = f": {names}{more}" if names else ""
    return f"pytest {outputs['status']} ({outputs['summary']}){listed}\n\n{outputs['report']}"


class _Follower:
    """Read the plugin's records while pytest runs and report progress from them."""

    def __init__(self, ctx: StepContext, records: RunRecords) -> None:
        self._ctx = ctx
        self._records = records
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pytest-progress", daemon=True)

    def __enter__(self) -> _Follower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = -1
        while not self._stop.wait(POLL_S):
            try:
                self._records.poll()
            except (OSError, ValueError) as e:
                # The final read after the run reports a broken file; progress just stops.
                self._ctx.log.debug("cannot follow pytest's progress: %s", e)
                return
            done, total = self._records.finished_count, self._records.collected
            if done != last:
                last = done
                if total:
                    self._ctx.progress(done / total, f"{done}/{total} tests")
                else:
                    self._ctx.progress(None, f"{done} tests")
