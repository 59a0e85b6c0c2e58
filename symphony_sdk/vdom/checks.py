"""Checking trees against the element types: the trust boundary between a motif and the UI.

:func:`validate` finds every problem in a tree (up to :data:`MAX_PROBLEMS`) and raises one
:class:`~symphony_sdk.vdom.errors.VDomError` naming each with its location. The renderer
validates every tree a motif sends before diffing it; :func:`~symphony_sdk.vdom.build.h`
checks each node as it is built. The walk is iterative and bounded (:data:`MAX_DEPTH`), so a
hostile tree cannot exhaust the stack here or in the diff.
"""

from __future__ import annotations

import math

from symphony_sdk.vdom.elements import ELEMENTS, ElementSpec, describe_value
from symphony_sdk.vdom.errors import Problem, VDomError
from symphony_sdk.vdom.model import Element
from symphony_sdk.vdom.paths import ROOT, label

__all__ = ["MAX_DEPTH", "MAX_PROBLEMS", "check_element", "json_problem", "validate"]

#: The deepest tree accepted (the root is level 1).
MAX_DEPTH = 64
#: The most problems one error reports.
MAX_PROBLEMS = 20
#: The deepest nesting of lists and dicts accepted in a prop.
MAX_JSON_DEPTH = 32
_INT_RANGE = range(-(2**63), 2**64)  # what msgpack carries
_PLAIN = frozenset({str, bool, type(None)})


def validate(tree: object) -> Element:
    """Return ``tree`` if it is a valid tree; raise otherwise.

    Checks every element: a known type, a non-empty string key, unique keys among siblings,
    props that are JSON and known to the type with values of the right type, children the type
    allows (text only where the type takes text), depth at most :data:`MAX_DEPTH`.

    Raises:
        VDomError: naming every problem with its location, e.g.
            ``root/vertical[summary]/button[ok]: unknown prop 'colour' for button``.
    """
    if not isinstance(tree, Element):
        raise VDomError.at(ROOT, f"not an element: {describe_value(tree)}")
    problems: list[Problem] = []
    stack: list[tuple[Element, str, int]] = [(tree, ROOT, 1)]
    while stack and len(problems) < MAX_PROBLEMS:
        element, where, depth = stack.pop()
        check_element(element, where, problems)
        if not isinstance(element.children, tuple):
            continue
        nested = [
            (child, f"{where}/{label(child, i)}", depth + 1)
            for i, child in enumerate(element.children)
            if isinstance(child, Element)
        ]
        if nested and depth >= MAX_DEPTH:
            problems.append(Problem(where, f"the tree is deeper than {MAX_DEPTH} levels"))
            continue
        stack.extend(reversed(nested))
    if problems:
        raise VDomError(problems[:MAX_PROBLEMS])
    return tree


def check_element(element: Element, where: str, problems: list[Problem]) -> None:
    """Append to ``problems`` what is wrong with ``element`` itself and its list of children.

    Only this node is checked (its type, key, props and which children it has), not the
    children's own content; ``where`` is its location.
    """
    spec = ELEMENTS.get(element.type) if isinstance(element.type, str) else None
    if spec is None:
        known = ", ".join(ELEMENTS)
        problems.append(Problem(where, f"unknown element type {element.type!r} (known: {known})"))
    key = element.key
    if key is not None and not (isinstance(key, str) and key):
        problems.append(Problem(where, f"key must be a non-empty string, got {key!r}"))
    _check_props(element, spec, where, problems)
    _check_children(element, spec, where, problems)


def _check_props(
    element: Element, spec: ElementSpec | None, where: str, problems: list[Problem]
) -> None:
    props = element.props
    if type(props) is not dict:
        problems.append(Problem(where, f"props must be a dict, got {describe_value(props)}"))
        return
    for name, value in props.items():
        if not isinstance(name, str):
            problems.append(Problem(where, f"prop name {name!r} is not a string"))
            continue
        reason = json_problem(value)
        if reason is not None:
            problems.append(Problem(where, f"prop {name!r} is not JSON: {reason}"))
            continue
        if spec is None:
            continue
        prop = spec.props.get(name)
        if prop is None:
            known = ", ".join(spec.props) or "none"
            problems.append(
                Problem(where, f"unknown prop {name!r} for {spec.name} (known: {known})")
            )
            continue
        reason = prop.type.problem(value)
        if reason is not None:
            problems.append(Problem(where, f"prop {name!r} {reason}"))


def _check_children(
    element: Element, spec: ElementSpec | None, where: str, problems: list[Problem]
) -> None:
    children = element.children
    if type(children) is not tuple:
        problems.append(Problem(where, f"children must be a tuple, got {describe_value(children)}"))
        return
    keys: dict[str, int] = {}
    for i, child in enumerate(children):
        if isinstance(child, str):
            if spec is not None and not spec.text:
                at = f"{where}/{label(child, i)}"
                problems.append(Problem(at, f"{spec.name} takes no text; put text in a label"))
            continue
        if not isinstance(child, Element):
            problems.append(
                Problem(where, f"child {i} is not an element or text: {describe_value(child)}")
            )
            continue
        key = child.key
        if isinstance(key, str):
            if key in keys:
                at = f"{where}/{label(child, i)}"
                problems.append(Problem(at, f"duplicate key {key!r} (child {keys[key]} has it)"))
            keys.setdefault(key, i)
        if spec is not None and child.type in ELEMENTS and child.type not in spec.children:
            allowed = ", ".join(sorted(spec.children)) or "nothing"
            at = f"{where}/{label(child, i)}"
            problems.append(
                Problem(at, f"{child.type} cannot be a child of {spec.name} (allowed: {allowed})")
            )


def json_problem(value: object, depth: int = 0) -> str | None:
    """Why ``value`` is not a plain JSON value, or None when it is.

    Plain means built of exactly ``None``, ``bool``, ``int`` (64-bit), finite ``float``,
    ``str``, ``list`` and ``dict`` with string keys: what survives a msgpack round trip unchanged.
    """
    kind = type(value)
    if kind in _PLAIN:
        return None
    if kind is int:
        return None if value in _INT_RANGE else "an integer beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) and kind is float else _not_json(value)
    if not isinstance(value, list | dict) or kind not in (list, dict):
        return _not_json(value)
    if depth >= MAX_JSON_DEPTH:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for name, item in items:
        if kind is dict and type(name) is not str:
            return f"key {name!r} is not a string"
        if type(item) in _PLAIN:  # most items: skip the call
            continue
        reason = json_problem(item, depth + 1)
        if reason is not None:
            return f"[{name!r}]: {reason}"
    return None


def _not_json(value: object) -> str:
    if type(value) is float:
        return f"{value!r} is not a finite number"
    if type(value) is tuple:
        return "a tuple (use a list)"
    return f"{type(value).__name__} is not a JSON type"
