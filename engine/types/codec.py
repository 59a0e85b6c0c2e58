"""msgpack encoding of envelopes, built once and reused (STYLE 6).

Decoding is two-step: the envelope with a raw payload, then the payload against the union of
known message types, so unknown envelope fields are tolerated while a payload of the wrong
shape is rejected with a clear error.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.types.errors import IpcError
from engine.types.messages import Envelope, Kind, Message, Priority, message_types


class _RawEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    payload: msgspec.Raw
    kind: Kind = Kind.EVENT
    id: str = ""
    source: str = ""
    target: str | None = None
    correlation_id: str | None = None
    priority: Priority = Priority.NORMAL
    timestamp: float = 0.0
    timeout_ms: int | None = None


class Codec:
    """Encoder/decoder pair for :class:`Envelope` over msgpack."""

    def __init__(self, types: list[type[Message]] | None = None) -> None:
        self.types = tuple(types if types is not None else message_types())
        self._encoder = msgspec.msgpack.Encoder()
        self._envelope = msgspec.msgpack.Decoder(_RawEnvelope)
        union: Any = self.types[0] if len(self.types) == 1 else _union(self.types)
        self._payload = msgspec.msgpack.Decoder(union)

    def encode(self, envelope: Envelope) -> bytes:
        """Serialise an envelope."""
        return self._encoder.encode(envelope)

    def decode(self, data: bytes) -> Envelope:
        """Parse an envelope; raises :class:`IpcError` naming what is wrong."""
        try:
            raw = self._envelope.decode(data)
            payload = self._payload.decode(raw.payload)
        except msgspec.DecodeError as e:
            raise IpcError(f"malformed message: {e}") from e
        fields = {f: getattr(raw, f) for f in raw.__struct_fields__ if f != "payload"}
        return Envelope(payload=payload, **fields)


def _union(types: tuple[type[Message], ...]) -> Any:
    from typing import Union

    return Union[types]  # noqa: UP007 - a runtime-built union of classes
