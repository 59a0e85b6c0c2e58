"""What one connection refuses its peer, and how it logs what the peer tells it.

The error frames for a peer over its rate limit (each request; events with one notice a second)
or over its share of the workers (``busy``), and the log line for a connection notice the peer
sends (an ``error`` with nil ``id``): escaped, clipped and rate-limited, so a peer cannot flood
or forge the log. This module must not send anything; the connection sends what it returns.
"""

from __future__ import annotations

import logging
import time

from engine.ipc.protocol import Code, Error, Request
from engine.ipc.ratelimit import LogThrottle, TokenBucket, clip

logger = logging.getLogger("engine.ipc.peer")

_NOTICE_RATE, _NOTICE_BURST = 1.0, 5  # notices logged per peer: 5 at once, then one a second
_EVENT_NOTICE_S = 1.0  # at most one "events are being dropped" notice this often


class Refusals:
    """Refusals and logged notices of the connection to the peer called ``name``."""

    def __init__(self, name: str, bucket: TokenBucket, calls: int, waiting_bytes: int) -> None:
        self._name = name
        self._limit = f"rate limit exceeded: {bucket.describe()}"
        self._calls = calls
        self._bytes = waiting_bytes
        self._events_refused_at = -_EVENT_NOTICE_S
        self._notices = LogThrottle(_NOTICE_RATE, _NOTICE_BURST)

    def rate_limited(self, frame: object) -> Error | None:
        """The answer to a request or event beyond the rate limit (``None``: say nothing)."""
        if isinstance(frame, Request):
            return Error(id=frame.id, code=Code.RATE_LIMITED, message=self._limit)
        now = time.monotonic()
        if now - self._events_refused_at < _EVENT_NOTICE_S:
            return None
        self._events_refused_at = now
        notice = f"{self._limit}; events are being dropped"
        return Error(code=Code.RATE_LIMITED, message=notice)

    def busy(self, request_id: int, limit: str) -> Error:
        """The answer to a request the peer's share of the workers has no room for."""
        if limit == "calls":
            message = f"too many requests in flight from {self._name!r} (limit {self._calls})"
        else:
            message = (
                f"the requests {self._name!r} has waiting for a worker hold too many bytes"
                f" (limit {self._bytes})"
            )
        return Error(id=request_id, code=Code.BUSY, message=message)

    def log_notice(self, error: Error) -> None:
        """Log a connection notice from the peer: escaped (``%r``), clipped, rate-limited."""
        suppressed = self._notices.allow()
        if suppressed is None:
            return
        more = f" ({suppressed} more notices were not logged)" if suppressed else ""
        message, code = clip(error.message), clip(error.code, 64)
        logger.warning("IPC peer %r reports: %r (%r)%s", self._name, message, code, more)
