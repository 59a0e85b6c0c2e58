"""The virtual DOM of motif panels: the model, checking, the keyed diff, patches and events.

A motif describes its panel as a tree of elements built with :func:`h`; Symphony validates each
tree it receives, diffs it against the previous one and applies the patches to its widgets, so
a widget whose element stays (by key, or by position among unkeyed siblings) is updated in
place, never re-created. What the user does comes back as :class:`UiEvent` values::

    from symphony_sdk.vdom import h

    def render(results):
        return h("vertical",
                 h("label", f"{results.failed} failed", key="summary", tone="error"),
                 h("table", [h("row", key=t.id, cells=[t.name, t.outcome]) for t in results],
                   key="tests", columns=["test", "outcome"]),
                 h("button", key="rerun", label="Re-run failed"))

This package is shared by the engine, extension host processes and the Textual renderer: it
imports neither Textual nor the engine (beyond the error hierarchy).
"""

from __future__ import annotations

from symphony_sdk.vdom.build import h
from symphony_sdk.vdom.checks import validate
from symphony_sdk.vdom.codec import decode_event, decode_patches, decode_tree, encode
from symphony_sdk.vdom.elements import ELEMENTS, EVENT_KINDS, ElementSpec, EventKind, PropSpec
from symphony_sdk.vdom.errors import PatchError, Problem, VDomError
from symphony_sdk.vdom.events import UiEvent, validate_event
from symphony_sdk.vdom.mirror import Mirror, MirrorNode, mount
from symphony_sdk.vdom.model import Element, JSONValue, Node, Path, Segment
from symphony_sdk.vdom.patches import (
    AnyPatch,
    Insert,
    Move,
    Patch,
    Remove,
    Replace,
    SetProps,
    SetText,
)
from symphony_sdk.vdom.patching import apply, apply_patch
from symphony_sdk.vdom.paths import describe, resolve
from symphony_sdk.vdom.reconcile import diff
from symphony_sdk.vdom.target import PatchTarget, apply_to

__all__ = [
    "ELEMENTS",
    "EVENT_KINDS",
    "AnyPatch",
    "Element",
    "ElementSpec",
    "EventKind",
    "Insert",
    "JSONValue",
    "Mirror",
    "MirrorNode",
    "Move",
    "Node",
    "Patch",
    "PatchError",
    "PatchTarget",
    "Path",
    "Problem",
    "PropSpec",
    "Remove",
    "Replace",
    "Segment",
    "SetProps",
    "SetText",
    "UiEvent",
    "VDomError",
    "apply",
    "apply_patch",
    "apply_to",
    "decode_event",
    "decode_patches",
    "decode_tree",
    "describe",
    "diff",
    "encode",
    "h",
    "mount",
    "resolve",
    "validate",
    "validate_event",
]
