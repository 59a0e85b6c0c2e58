"""The script ``python.call`` runs in the chosen interpreter: import the target, call it, report.

It is copied into the step's scratch folder and started as ``python runner.py RESULT_FILE``
with a JSON request ``{"target", "args", "kwargs", "workspace"}`` on standard input. The answer
goes to RESULT_FILE, not standard output, so whatever the function prints stays its own:
``{"ok": true, "result": ...}`` or ``{"ok": false, "stage": ..., "error": "Type: message",
"traceback": ...}``.

It must run on any Python 3.8+ interpreter (a project's virtual environment, not Symphony's):
standard library only, and nothing from Symphony.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType


def _user_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The frames of ``tb`` minus the runner's and the import machinery's own."""
    here = Path(__file__).resolve()
    frames = []
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if name.startswith("<frozen importlib") or _is_importlib(name):
            continue
        if Path(name).resolve() == here:
            continue
        frames.append(frame)
    return frames


def _is_importlib(filename: str) -> bool:
    path = Path(filename)
    return path.name == "__init__.py" and path.parent.name == "importlib"


def _error(e: BaseException) -> dict[str, Any]:
    message = str(e)
    frames = _user_frames(e.__traceback__)
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(e), e)
    return {
        "ok": False,
        "error": f"{type(e).__name__}: {message}" if message else type(e).__name__,
        "traceback": "".join(lines),
    }


def _resolve(target: str) -> Any:
    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Import and call the request's target; never raises.

    A failure names its ``stage``: ``load`` (import or attribute lookup), ``call`` (the
    function raised) or ``result`` (JSON cannot hold what it returned, see :func:`encode`).
    """
    try:
        func = _resolve(request["target"])
    except BaseException as e:  # an import runs module code: anything can come out
        return {**_error(e), "stage": "load"}
    if not callable(func):
        error = f"it is not callable ({type(func).__name__})"
        return {"ok": False, "stage": "load", "error": error, "traceback": ""}
    try:
        result = func(*request["args"], **request["kwargs"])
    except BaseException as e:  # SystemExit and KeyboardInterrupt are the function's too
        return {**_error(e), "stage": "call"}
    return {"ok": True, "result": result}


def encode(reply: dict[str, Any]) -> str:
    """The reply as JSON; a result JSON cannot hold becomes an error naming its type."""
    try:
        return json.dumps(reply, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        error = f"its result is not JSON-serialisable: {e}"
        return json.dumps({"ok": False, "stage": "result", "error": error, "traceback": ""})


def main() -> int:
    result_file = Path(sys.argv[1])
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    # The script's folder (the step's scratch) is sys.path[0]; the workspace takes its place.
    if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.path.insert(0, request["workspace"])
    reply = run(request)
    text = encode(reply)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the function may have closed it
            stream.flush()
    result_file.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
