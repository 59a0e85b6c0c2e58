"""Built-in ``ruff.check`` operator: lint Python files and report ruff's diagnostics as data.

It runs ``ruff check --output-format json`` in the workspace with the project's own ruff
configuration. ``--no-cache`` keeps a plain check from writing ``.ruff_cache`` into the
workspace; with ``fix`` ruff rewrites the files it fixes, which is why the manifest grants
``fs.write``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping

    from symphony_sdk import ProcessResult, StepContext

__all__ = ["RuffFailed", "RuffIssues", "RuffOperator", "ruff_command"]


class RuffFailed(Exception):
    """ruff could not check the files: bad configuration or arguments, a crash, a timeout."""


class RuffIssues(Exception):
    """Diagnostics remain and the step checks the result (``check = true``)."""


def ruff_command(given: str | None, search_path: str | None, workspace: Path) -> list[str]:
    """The command that starts ruff.

    Args:
        given: the ``ruff`` input; a relative path with a ``/`` is relative to the workspace.
        search_path: the ``PATH`` the child gets.
        workspace: the workspace root.

    Returns:
        ``given``, else ``ruff`` found on ``search_path``, else the ``ruff`` beside this
        Python, else ``[python, "-m", "ruff"]``.
    """
    if given:
        if "/" in given and not Path(given).is_absolute():
            return [str(workspace / given)]
        return [given]
    found = shutil.which("ruff", path=search_path) if search_path else None
    if found:
        return [found]
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [sys.executable, "-m", "ruff"]


class RuffOperator(Operator):
    """Lint the workspace with ruff."""

    @step("ruff.check")
    def check(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        fix: bool = inputs["fix"]
        targets = []
        for path in inputs["paths"]:
            full = ctx.fs.path(path)  # refuses paths outside the workspace or not granted
            if fix:
                ctx.fs.path(path, write=True)
            targets.append(str(full))
        argv = ruff_command(inputs["ruff"], ctx.getenv("PATH"), ctx.workspace)
        argv += ["check", "--output-format", "json", "--no-cache"]
        if inputs["select"]:
            argv += ["--select", ",".join(inputs["select"])]
        if inputs["ignore"]:
            argv += ["--ignore", ",".join(inputs["ignore"])]
        if fix:
            argv.append("--fix")
        # Resolved absolute paths: no path can pass for an option, and ruff reports them as is.
        argv += targets
        try:
            result = ctx.run(argv, timeout=inputs["timeout_s"])
        except OSError as e:
            raise RuffFailed(f"cannot start {argv[0]}: {e.strerror or e}") from e
        diagnostics = [_diagnostic(d, ctx.workspace) for d in _parse(result, inputs["timeout_s"])]
        by_code = dict(sorted(Counter(d["code"] for d in diagnostics).items()))
        fixable = sum(1 for d in diagnostics if d["fixable"])
        report = _report(diagnostics, fixable)
        if inputs["check"] and diagnostics:
            shown = "; ".join(report.splitlines()[:3])
            more = f" and {len(diagnostics) - 3} more" if len(diagnostics) > 3 else ""
            raise RuffIssues(f"ruff found {len(diagnostics)} issue(s): {shown}{more}\n\n{report}")
        return {
            "status": "issues" if diagnostics else "clean",
            "count": len(diagnostics),
            "fixable": fixable,
            "diagnostics": diagnostics,
            "by_code": by_code,
            "report": report,
            "exit_code": result.returncode,
        }


def _parse(result: ProcessResult, timeout_s: float | None) -> list[dict[str, Any]]:
    """ruff's JSON diagnostics; raises when ruff failed instead of checking."""
    if result.timed_out:
        raise RuffFailed(f"ruff timed out after {timeout_s:g} s")
    # The first line is what the user sees in the step's error, so it carries ruff's reason.
    why = "; ".join(line.strip() for line in result.stderr.strip().splitlines()[:5])
    if result.returncode not in (0, 1):
        raise RuffFailed(f"ruff failed (exit status {result.returncode}): {why or 'no message'}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise RuffFailed(f"ruff printed no JSON report ({e}): {why or 'no message'}") from e
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise RuffFailed(f"ruff's JSON report is not a list of diagnostics: {why or 'no message'}")
    return data


def _diagnostic(raw: Mapping[str, Any], workspace: Path) -> dict[str, Any]:
    start = raw.get("location") or {}
    end = raw.get("end_location") or {}
    fix = raw.get("fix")
    # Syntax errors have no rule code in older ruff versions.
    code = raw.get("code") or raw.get("name") or "invalid-syntax"
    return {
        "code": str(code),
        "message": str(raw.get("message") or ""),
        "path": _relative(str(raw.get("filename") or ""), workspace),
        "line": int(start.get("row") or 0),
        "column": int(start.get("column") or 0),
        "end_line": int(end.get("row") or 0),
        "end_column": int(end.get("column") or 0),
        # What `fix = true` would apply: unsafe fixes need ruff's --unsafe-fixes.
        "fixable": isinstance(fix, dict) and fix.get("applicability") == "safe",
        "url": raw.get("url"),
    }


def _relative(filename: str, workspace: Path) -> str:
    path = Path(filename)
    if not path.is_absolute():
        path = workspace / path
    try:
        return path.resolve().relative_to(workspace).as_posix()
    except ValueError:
        return filename


def _report(diagnostics: list[dict[str, Any]], fixable: int) -> str:
    if not diagnostics:
        return "All checks passed!\n"
    lines = [
        f"{d['path']}:{d['line']}:{d['column']}: {d['code']}"
        f"{' [*]' if d['fixable'] else ''} {d['message']}"
        for d in diagnostics
    ]
    n = len(diagnostics)
    summary = f"Found {n} issue{'s' if n != 1 else ''}"
    summary += f" ({fixable} fixable with fix=true, marked [*])." if fixable else "."
    return "\n".join([*lines, "", summary]) + "\n"
