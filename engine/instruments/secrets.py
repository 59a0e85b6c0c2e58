"""Secrets Symphony reads (API keys) and their redaction from logs, events and artifacts.

An API key is read from its environment variable only in the engine, at the moment a request
needs it, and registered here; every place that writes something a user or a file may see —
Symphony's log handlers, step log events, step outputs (kept in runs.db, the cache and as
artifacts, and handed to later steps), prompts and replies kept as artifacts — passes text
through :func:`redact` first. Values shorter than
:data:`MIN_SECRET` are not treated as secrets (they would redact ordinary words).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "MIN_SECRET",
    "REDACTED",
    "DeltaRedactor",
    "RedactingFilter",
    "extension_logger",
    "redact",
    "redact_bytes",
    "redact_json",
    "register",
    "registered",
]

MIN_SECRET = 8
REDACTED = "[redacted]"

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (in this process)."""
    global _secrets
    if not value or len(value) < MIN_SECRET:
        return
    with _lock:
        if value not in _secrets:
            _secrets = _secrets | {value}
    _guard_last_resort()


def _guard_last_resort() -> None:
    """Loggers outside Symphony's handlers (``symphony.ext.*``, ``symphony.mcp`` without a
    configured handler) end at Python's last-resort handler: it redacts too."""
    handler = logging.lastResort
    if handler is not None and not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def registered() -> frozenset[str]:
    """The secrets registered so far."""
    return _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact` for bytes (UTF-8 encoded secrets)."""
    for secret in _secrets:
        encoded = secret.encode()
        if encoded in data:
            data = data.replace(encoded, REDACTED.encode())
    return data


def redact_json(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every registered secret
    redacted from its strings, keys included; the same object when nothing is registered."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_json(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that redacts secrets from the formatted message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                text = redact(str(record.exc_info[1]))
                if text != str(record.exc_info[1]):
                    record.exc_info = None
                    record.msg = f"{record.msg} ({text})"
        return True


def extension_logger(extension_id: str) -> logging.Logger:
    """The logger of an extension's ``ctx.log``, redacting at the source: its records hold no
    secret for any handler (a step logging a command's output that echoed a key)."""
    logger = logging.getLogger(f"symphony.ext.{extension_id}")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


class DeltaRedactor:
    """Passes streamed pieces on with secrets redacted, even a secret split across pieces.

    The end of what arrived is held back while it could be the beginning of a secret;
    :meth:`flush` sends what is left once the reply is complete.
    """

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._pending = ""

    def feed(self, text: str) -> None:
        clean = redact(self._pending + text)
        keep = _open_tail(clean)
        ready, self._pending = clean[: len(clean) - keep], clean[len(clean) - keep :]
        if ready:
            self._sink(ready)

    def flush(self) -> None:
        if self._pending:
            rest, self._pending = redact(self._pending), ""
            self._sink(rest)


def _open_tail(text: str) -> int:
    """Length of the longest end of ``text`` that is the beginning (not the whole) of a secret."""
    # The registry is append-only and swapped whole, so reading it unlocked is safe.
    longest = 0
    for secret in registered():
        for k in range(min(len(secret) - 1, len(text)), longest, -1):
            if secret.startswith(text[-k:]):
                longest = k
                break
    return longest
