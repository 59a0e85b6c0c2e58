"""Small adapters between typed command handlers and the bus's envelope handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.types.messages import Envelope, Message


def on_payload(fn: Callable[[Any], Message]) -> Callable[[Envelope], Message]:
    """Adapt ``fn(command)`` to a bus handler taking the whole envelope."""

    def handler(envelope: Envelope) -> Message:
        return fn(envelope.payload)

    return handler
