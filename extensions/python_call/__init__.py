"""Built-in ``python.call`` operator: call a Python function of the workspace in a subprocess.

The function runs in its own interpreter (the workspace's ``.venv`` when there is one), started
through the context with a timeout, so a hang, a crash or a ``sys.exit`` in user code ends that
process, never Symphony. Arguments go in and the result comes back as JSON (see ``runner.py``);
what the function prints is reported separately.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping

    from symphony_sdk import ProcessResult, StepContext

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
TARGET_RE = re.compile(rf"^{_NAME}(\.{_NAME})*:{_NAME}(\.{_NAME})*$")
RUNNER = Path(__file__).with_name("runner.py")
TRACEBACK_LINES = 8
# No bytecode litter in the workspace; UTF-8 output whatever the locale says.
CHILD_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}


class PythonCallFailed(Exception):
    """The call could not start, raised, returned something JSON cannot hold, or timed out."""


class PythonCallOperator(Operator):
    """Call functions of the workspace's Python code."""

    @step("python.call")
    def call(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        target: str = inputs["target"]
        if not TARGET_RE.match(target):
            raise ValueError(
                f"target must be 'package.module:function' (or 'module:Class.method'),"
                f" got {target!r}"
            )
        timeout: float = inputs["timeout_s"]
        if timeout <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout:g}")
        python = _interpreter(ctx, inputs["python"])
        request = {
            "target": target,
            "args": inputs["args"],
            "kwargs": inputs["kwargs"],
            "workspace": str(ctx.workspace),
        }
        try:
            payload = json.dumps(request, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise ValueError(f"args and kwargs must be JSON values: {e}") from e
        runner = ctx.scratch / "symphony_python_call.py"
        reply_file = ctx.scratch / "reply.json"
        ctx.fs.write_bytes(str(runner), RUNNER.read_bytes())
        try:
            result = ctx.run(
                [python, str(runner), str(reply_file)],
                env=CHILD_ENV,
                input=payload,
                timeout=timeout,
            )
        except OSError as e:
            raise PythonCallFailed(f"cannot start the interpreter {python!r}: {e}") from e
        if result.timed_out:
            raise PythonCallFailed(
                f"{target} did not return within {timeout:g} s; its process was stopped"
            )
        if not ctx.fs.exists(str(reply_file)):
            raise PythonCallFailed(_died(target, result))
        reply = json.loads(ctx.fs.read_text(str(reply_file)))
        if not reply["ok"]:
            raise PythonCallFailed(_raised(target, reply))
        return {
            "result": reply["result"],
            "stdout": result.stdout,
            "stderr": result.stderr,
            "duration_s": result.duration_s,
        }


def _interpreter(ctx: StepContext, wanted: str | None) -> str:
    """The interpreter to start: ``wanted``, else the workspace's ``.venv``, else Symphony's."""
    if wanted is None:
        # Not through ctx.fs: the venv's python is a symlink leading out of the workspace, and
        # only whether it is there matters here (the child is checked as a process).
        venv = ctx.workspace / ".venv" / "bin" / "python"
        return str(venv) if venv.exists() else sys.executable
    if "/" not in wanted:
        return wanted  # a program name, looked up on PATH
    path = Path(wanted)
    if not path.is_absolute():
        path = ctx.workspace / path
    if not path.exists():
        raise PythonCallFailed(f"no Python interpreter at {wanted!r}")
    return str(path)


def _died(target: str, result: ProcessResult) -> str:
    if result.returncode < 0:
        how = f"was killed by signal {-result.returncode}"
    else:
        how = f"exited with status {result.returncode}"
    tail = result.stderr.strip().splitlines()[-TRACEBACK_LINES:]
    detail = ("\n" + "\n".join(tail)) if tail else ""
    return f"the Python process calling {target} {how} before it returned{detail}"


def _raised(target: str, reply: Mapping[str, Any]) -> str:
    error = reply["error"]
    lines = str(reply.get("traceback", "")).strip().splitlines()
    stage = reply.get("stage")
    if stage == "load":
        first = f"cannot load {target}: {error}"
    elif stage == "call":
        where = _innermost(lines)
        first = f"{target} raised {error}" + (f" ({where})" if where else "")
    else:
        first = f"{target}: {error}"
    # The first line is what a user sees in a listing; the traceback's end follows it.
    has_frames = bool(lines) and lines[0].startswith("Traceback")
    return first + ("\n" + "\n".join(lines[-TRACEBACK_LINES:]) if has_frames else "")


def _innermost(lines: list[str]) -> str:
    """``file:line in function`` of the last frame of a formatted traceback."""
    frame = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
    for line in reversed(lines):
        m = frame.match(line)
        if m:
            return f"{Path(m['file']).name}:{m['line']} in {m['func']}"
    return ""
