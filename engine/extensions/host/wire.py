"""What crosses the IPC bus between the engine and an extension host, besides plain values.

Results travel as ``{"ok": value}`` or ``{"error": {...}}`` so that a Symphony error raised on
one side (a permission refusal, a cancellation, a bad input) is raised again on the other with
its class, message and fields — an extension in its own process sees exactly the exceptions it
would see in-process, and the engine reports the extension's failures as it always does.
"""

from __future__ import annotations

import functools
import traceback
from typing import Any

from engine.types import errors as _errors
from engine.types.errors import ExtensionError, IpcRemoteError, SymphonyError

__all__ = [
    "EXTRA_FIELDS",
    "ForeignError",
    "decode_error",
    "encode_error",
    "failure",
    "from_remote",
    "success",
    "unwrap",
]

#: Attributes some errors carry besides their message (kept across the bus).
EXTRA_FIELDS = ("extension", "permission", "target", "source", "key", "reason")


def encode_error(error: BaseException, *, with_traceback: bool = False) -> dict[str, Any]:
    """A Symphony error as plain data; any other exception by its class name and message (with
    its traceback when ``with_traceback``: the extension's own bug)."""
    if isinstance(error, SymphonyError):
        fields = {
            name: getattr(error, name)
            for name in EXTRA_FIELDS
            if isinstance(getattr(error, name, None), str)
        }
        return {"type": type(error).__name__, "message": error.message, "fields": fields}
    found: dict[str, Any] = {"type": "", "foreign": type(error).__name__, "message": str(error)}
    if with_traceback:
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        found["traceback"] = "".join(lines).rstrip()
    return found


def decode_error(data: Any) -> SymphonyError:
    """Rebuild the error :func:`encode_error` described (an ``ExtensionError`` if unknown)."""
    if not isinstance(data, dict):
        return ExtensionError(f"malformed error from the other side: {data!r}")
    message = str(data.get("message", "unknown error"))
    foreign = data.get("foreign")
    if isinstance(foreign, str) and foreign.isidentifier():
        raised = _foreign_class(foreign)(message)
        raised.remote_traceback = str(data.get("traceback", ""))
        return raised
    cls = getattr(_errors, str(data.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, SymphonyError)):
        return ExtensionError(message)
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.message = message
    fields = data.get("fields")
    for name, value in (fields if isinstance(fields, dict) else {}).items():
        if name in EXTRA_FIELDS and isinstance(value, str):
            setattr(error, name, value)
    return error


class ForeignError(ExtensionError):
    """An exception of the extension's own (``ValueError``…) raised in its host process.

    :func:`decode_error` makes a subclass named like the original class, so reports read the
    same as for an in-process extension (``failed: ValueError: cannot do that``).
    """

    remote_traceback = ""


@functools.cache
def _foreign_class(name: str) -> type[ForeignError]:
    return type(name, (ForeignError,), {"__module__": __name__})


def success(value: Any = None) -> dict[str, Any]:
    """The wire form of a result."""
    return {"ok": value}


def failure(error: BaseException, *, with_traceback: bool = False) -> dict[str, Any]:
    """The wire form of an error."""
    return {"error": encode_error(error, with_traceback=with_traceback)}


def unwrap(reply: Any) -> Any:
    """The value of a :func:`success` reply; raises the error of a :func:`failure` one."""
    if isinstance(reply, dict) and "error" in reply:
        raise decode_error(reply["error"])
    if isinstance(reply, dict) and "ok" in reply:
        return reply["ok"]
    raise ExtensionError(f"malformed reply from the other side: {reply!r}")


def from_remote(error: IpcRemoteError) -> SymphonyError:
    """The Symphony error a handler on the other side raised, from an IPC error frame (streams
    end with those); other failures stay as they are."""
    name = error.remote_exception
    prefix = f"{name}: "
    message = error.message[len(prefix) :] if error.message.startswith(prefix) else error.message
    if name and isinstance(getattr(_errors, name, None), type):
        return decode_error({"type": name, "message": message, "fields": {}})
    return error
