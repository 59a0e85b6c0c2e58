"""Secrets Symphony reads (API keys) and their redaction from logs, events and artifacts.

An API key is read from its environment variable only in the engine, at the moment a request
needs it, and registered here; every place that writes something a user or a file may see —
Symphony's log handlers, step log events, step outputs stored as artifacts, prompts and replies
kept as artifacts — passes text through :func:`redact` first. Values shorter than
:data:`MIN_SECRET` are not treated as secrets (they would redact ordinary words).
"""

from __future__ import annotations

import logging
import threading

__all__ = [
    "MIN_SECRET",
    "REDACTED",
    "RedactingFilter",
    "redact",
    "redact_bytes",
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
