"""The closed set of element types a motif may use: their props, children and events.

The renderer maps each type to a Textual widget; a tree naming any other type, or a prop a type
does not have, is refused by :func:`~symphony_sdk.vdom.checks.validate`. Every prop is
optional: an absent (or removed) prop means its ``default``. Text nodes (plain strings) are
allowed only in the types whose ``text`` is true, where they make up the content. This module
is data; it must import neither Textual nor the engine.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from symphony_sdk.vdom.model import JSONValue

__all__ = [
    "ELEMENTS",
    "EVENT_KINDS",
    "ElementSpec",
    "EventKind",
    "PropSpec",
    "ValueType",
    "describe_value",
]

#: What a user did to an element.
EventKind = Literal["press", "change", "select", "submit"]
EVENT_KINDS: tuple[EventKind, ...] = ("press", "change", "select", "submit")

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40


def describe_value(value: object) -> str:
    """A short description of a value for error messages: its type and a clipped repr."""
    return f"{type(value).__name__} {_repr.repr(value)}"


@dataclass(frozen=True)
class ValueType:
    """A named test of a JSON value: the type of a prop or of an event's value."""

    name: str
    test: Callable[[object], bool]

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not of this type, or None when it is."""
        return None if self.test(value) else f"must be {self.name}, got {describe_value(value)}"


# Exact types: props are plain JSON values (checks.json_problem), never subclasses.
_NUMBERS = frozenset({int, float})
_CELLS = frozenset({str, int, float, bool, type(None)})


def _number(value: object) -> bool:
    return type(value) in _NUMBERS


def one_of(*choices: str) -> ValueType:
    """A string that is one of ``choices``."""
    return ValueType(
        "one of " + ", ".join(repr(c) for c in choices),
        lambda v: type(v) is str and v in choices,
    )


STRING = ValueType("a string", lambda v: type(v) is str)
OPTIONAL_STRING = ValueType("a string or null", lambda v: v is None or type(v) is str)
BOOLEAN = ValueType("a boolean", lambda v: type(v) is bool)
NUMBER = ValueType("a number", _number)
OPTIONAL_NUMBER = ValueType("a number or null", lambda v: v is None or _number(v))
NULL = ValueType("null", lambda v: v is None)
STRINGS = ValueType(
    "a list of strings", lambda v: type(v) is list and all(type(x) is str for x in v)
)
CELLS = ValueType(
    "a list of strings, numbers, booleans or nulls",
    lambda v: type(v) is list and all(type(x) in _CELLS for x in v),
)


@dataclass(frozen=True)
class PropSpec:
    """One prop of an element type: its type, the value it has when absent, what it does."""

    type: ValueType
    default: JSONValue
    doc: str


@dataclass(frozen=True)
class ElementSpec:
    """One element type.

    Attributes:
        name: the type as written in trees (``button``).
        doc: what the renderer shows for it.
        props: its props by name.
        children: the element types allowed as its children (empty: none).
        text: whether text nodes are allowed as its children (they form its content).
        events: the events it sends back, each with the type of the event's value.
    """

    name: str
    doc: str
    props: Mapping[str, PropSpec]
    children: frozenset[str] = frozenset()
    text: bool = False
    events: Mapping[EventKind, ValueType] = field(default_factory=dict)


_DISABLED = PropSpec(BOOLEAN, False, "greyed out, not focusable, sends no events")
_CONTAINER = {"title": PropSpec(STRING, "", "a border with this title; empty for no border")}
#: What containers hold: every type but ``row``, which belongs in a ``table``.
_BLOCKS = frozenset(
    {
        "vertical",
        "horizontal",
        "scroll",
        "label",
        "markdown",
        "button",
        "input",
        "checkbox",
        "select",
        "table",
        "progress",
    }
)

_SPECS = (
    ElementSpec("vertical", "children stacked top to bottom", _CONTAINER, _BLOCKS),
    ElementSpec("horizontal", "children side by side, left to right", _CONTAINER, _BLOCKS),
    ElementSpec("scroll", "children stacked top to bottom, scrolling", _CONTAINER, _BLOCKS),
    ElementSpec(
        "label",
        "plain text (its text children, joined); never markup",
        {
            "tone": PropSpec(
                one_of("default", "muted", "accent", "success", "warning", "error"),
                "default",
                "the theme colour of the text",
            ),
            "bold": PropSpec(BOOLEAN, False, "bold text"),
        },
        text=True,
    ),
    ElementSpec("markdown", "Markdown (its text children, joined)", {}, text=True),
    ElementSpec(
        "button",
        "a button",
        {
            "label": PropSpec(STRING, "", "the text on the button"),
            "variant": PropSpec(
                one_of("default", "primary", "success", "warning", "error"),
                "default",
                "the theme colour of the button",
            ),
            "disabled": _DISABLED,
        },
        events={"press": NULL},
    ),
    ElementSpec(
        "input",
        "a one-line text input",
        {
            "value": PropSpec(STRING, "", "the text in the input"),
            "placeholder": PropSpec(STRING, "", "shown while the input is empty"),
            "password": PropSpec(BOOLEAN, False, "hide the characters typed"),
            "disabled": _DISABLED,
        },
        events={"change": STRING, "submit": STRING},
    ),
    ElementSpec(
        "checkbox",
        "a checkbox with a label",
        {
            "label": PropSpec(STRING, "", "the text next to the box"),
            "value": PropSpec(BOOLEAN, False, "whether it is checked"),
            "disabled": _DISABLED,
        },
        events={"change": BOOLEAN},
    ),
    ElementSpec(
        "select",
        "a drop-down list of options",
        {
            "options": PropSpec(STRINGS, [], "the options, shown as written"),
            "value": PropSpec(OPTIONAL_STRING, None, "the selected option; null for none"),
            "placeholder": PropSpec(STRING, "", "shown while nothing is selected"),
            "disabled": _DISABLED,
        },
        events={"select": OPTIONAL_STRING},
    ),
    ElementSpec(
        "table",
        "a data table; its children are its rows",
        {"columns": PropSpec(STRINGS, [], "the column headings")},
        frozenset({"row"}),
    ),
    ElementSpec(
        "row",
        "one row of a table",
        {"cells": PropSpec(CELLS, [], "the row's values, one per column")},
        events={"select": NULL},
    ),
    ElementSpec(
        "progress",
        "a progress bar",
        {
            "total": PropSpec(OPTIONAL_NUMBER, None, "the amount of work; null while unknown"),
            "progress": PropSpec(NUMBER, 0, "the amount done"),
        },
    ),
)

#: Every element type by name.
ELEMENTS: Mapping[str, ElementSpec] = {spec.name: spec for spec in _SPECS}
