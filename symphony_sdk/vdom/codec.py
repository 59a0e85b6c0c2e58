"""msgpack encoding of trees, patches and events, with encoders and decoders built once.

Decoding is tolerant of unknown fields (a newer peer may send more) and strict about the rest:
a decoded tree, or a subtree carried by a patch, is validated before it is returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from symphony_sdk.vdom.checks import validate
from symphony_sdk.vdom.errors import VDomError
from symphony_sdk.vdom.events import UiEvent
from symphony_sdk.vdom.model import Element
from symphony_sdk.vdom.patches import AnyPatch, Insert, Replace
from symphony_sdk.vdom.paths import ROOT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from symphony_sdk.vdom.patches import Patch

__all__ = ["decode_event", "decode_patches", "decode_tree", "encode"]

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_tree = msgspec.msgpack.Decoder(Element)
_patches = msgspec.msgpack.Decoder(list[AnyPatch])
_event = msgspec.msgpack.Decoder(UiEvent)


def encode(value: Element | UiEvent | Sequence[Patch]) -> bytes:
    """msgpack bytes of a tree, an event or a list of patches."""
    return _encoder.encode(value)


def decode_tree(data: bytes) -> Element:
    """The valid tree in ``data``.

    Raises:
        VDomError: the bytes are not a tree, or the tree is invalid.
    """
    return validate(_decode(_tree, data, "a tree"))


def decode_patches(data: bytes) -> list[Patch]:
    """The patches in ``data``; subtrees they insert or put in place are validated.

    Raises:
        VDomError: the bytes are not a list of patches, or a subtree is invalid.
    """
    patches: list[Patch] = [*_decode(_patches, data, "a list of patches")]
    for patch in patches:
        if isinstance(patch, Insert | Replace) and isinstance(patch.node, Element):
            validate(patch.node)
    return patches


def decode_event(data: bytes) -> UiEvent:
    """The event in ``data`` (check it against its tree with ``validate_event``).

    Raises:
        VDomError: the bytes are not an event.
    """
    return _decode(_event, data, "an event")


def _decode(decoder: msgspec.msgpack.Decoder[T], data: bytes, what: str) -> T:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as e:
        raise VDomError.at(ROOT, f"not {what}: {e}") from e
