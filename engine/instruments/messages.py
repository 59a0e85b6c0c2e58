"""Chat with a configured model over the bus: the commands the TUI's chat panel sends and the
events that stream the answer back (answered by :mod:`engine.instruments.chat`)."""

from __future__ import annotations

import msgspec

from engine.types.ids import new_id
from engine.types.messages import Command, Event, Reply

__all__ = [
    "CancelChat",
    "ChatDelta",
    "ChatFinished",
    "ChatMessage",
    "ChatRequest",
    "ListModels",
    "ModelInfo",
    "ModelList",
]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a conversation: ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str


class ChatRequest(Command, frozen=True, kw_only=True):
    """Answer the last message of a conversation; acknowledged at once (``Ack.detail`` is the
    request id), then :class:`ChatDelta` events and one :class:`ChatFinished`."""

    conversation: str
    messages: tuple[ChatMessage, ...]
    model: str | None = None
    request_id: str = msgspec.field(default_factory=new_id)
    #: Keep the exchange as artifacts tagged ``chat`` (prompt, and the reply made from it).
    save: bool = True


class CancelChat(Command, frozen=True, kw_only=True):
    """Stop the answer of ``request_id`` (its HTTP stream is cut); unknown ids are ignored."""

    request_id: str


class ListModels(Command, frozen=True, kw_only=True):
    """Ask which models are configured (never their keys)."""


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A configured model as a client may see it."""

    name: str
    model: str
    base_url: str
    api_key_env: str | None = None
    key_set: bool = True
    input_price: float | None = None
    output_price: float | None = None


class ModelList(Reply, frozen=True, kw_only=True):
    """The configured models; ``default`` is the one used when none is named (None when it
    must be named); ``how_to`` says how to configure one when there is none."""

    models: tuple[ModelInfo, ...]
    default: str | None
    how_to: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.models)


class ChatDelta(Event, frozen=True, kw_only=True):
    """More of an answer (pieces batched: at most one event every ~30 ms per answer)."""

    conversation: str
    request_id: str
    text: str


class ChatFinished(Event, frozen=True, kw_only=True):
    """An answer ended: complete, cancelled or failed (``error`` says why, redacted)."""

    conversation: str
    request_id: str
    model: str
    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    duration_ms: float = 0.0
    cancelled: bool = False
    error: str = ""
    #: The reply's artifact (its prompt is its input in the lineage), when it was kept.
    artifact: str | None = None
