"""Step input references: ``${params.NAME}``, ``${steps.ID.outputs.NAME}``, ``${steps.ID.status}``.

A string that is exactly one reference becomes the referenced value with its own type (a list
stays a list); references inside a longer string are interpolated, strings as they are and other
values as JSON. ``$${`` writes a literal ``${``. Lists and tables are walked, so references may
sit at any depth of a step's ``with``. Parsing is cached per string, because the runner resolves
the same inputs again for every attempt. This module must not know about step types or steps'
order: the validator checks that references make sense, the runner supplies the values.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "Path",
    "Ref",
    "StepView",
    "find_refs",
    "format_path",
    "has_refs",
    "resolve",
    "scan",
    "split",
    "whole_ref",
]

#: A step's result as references see it: ``{"status": "completed", "outputs": {...}}``.
StepView: TypeAlias = Mapping[str, Any]
#: Where a value sits inside ``with``: keys and list indices from the top.
Path: TypeAlias = tuple[str | int, ...]

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_TOKEN = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
_PARAM = re.compile(rf"params\.({_NAME})")
_STEP = re.compile(rf"steps\.({_NAME})\.(?:outputs\.({_NAME})|(status))")
_EXPECTED = "expected ${params.NAME}, ${steps.ID.outputs.NAME} or ${steps.ID.status}"


@dataclass(frozen=True, slots=True)
class Ref:
    """One ``${...}`` reference.

    Attributes:
        kind: ``params`` or ``steps``.
        name: the parameter's name or the step's id.
        field: for a step, the output's name or ``"status"``; None for a parameter.
        text: the reference as written, ``${...}`` included.
    """

    kind: Literal["params", "steps"]
    name: str
    field: str | None
    text: str

    @property
    def is_status(self) -> bool:
        """Whether it names a step's status rather than one of its outputs."""
        return self.kind == "steps" and self.field == "status"

    def __str__(self) -> str:
        return self.text


def _parse_ref(inner: str, text: str) -> Ref:
    body = inner.strip()
    if m := _PARAM.fullmatch(body):
        return Ref("params", m[1], None, text)
    if m := _STEP.fullmatch(body):
        return Ref("steps", m[1], m[2] or m[3], text)
    raise ValueError(f"malformed reference {text!r}: {_EXPECTED}")


@functools.lru_cache(maxsize=4096)
def split(text: str) -> tuple[str | Ref, ...]:
    """Split a string into literal text and references, escapes applied.

    Adjacent literal pieces are merged, so a string without references gives one string (or
    nothing when it is empty) and a string that is exactly one reference gives ``(ref,)``.

    Raises:
        ValueError: a ``${`` without its ``}`` or a reference of the wrong shape.
    """
    parts: list[str | Ref] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[pos : m.start()])
        pos = m.end()
        token = m[0]
        if token == "$${":
            literal.append("${")
        elif m[1] is None:
            raise ValueError(f"'${{' without a matching '}}' in {text!r}")
        else:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_ref(m[1], token))
    literal.append(text[pos:])
    rest = "".join(literal)
    if rest:
        parts.append(rest)
    return tuple(p for p in parts if p != "")


def has_refs(text: str) -> bool:
    """Whether the string needs :func:`split` at all (holds ``${`` or an escape)."""
    return "${" in text


def whole_ref(value: Any) -> Ref | None:
    """The reference a value consists of, when it is a string holding exactly one.

    Raises:
        ValueError: the string holds a malformed reference.
    """
    if not isinstance(value, str) or not has_refs(value):
        return None
    parts = split(value)
    return parts[0] if len(parts) == 1 and isinstance(parts[0], Ref) else None


def format_path(path: Path) -> str:
    """``("paths", 0, "x")`` → ``"paths[0].x"``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def scan(value: Any, path: Path = ()) -> tuple[list[tuple[Path, Ref]], list[tuple[Path, str]]]:
    """Every reference in a nested value with where it sits, and every malformed one.

    Returns:
        ``(refs, problems)``: each reference with its path, and each string that does not parse
        with its path and the reason. Both are in document order.
    """
    refs: list[tuple[Path, Ref]] = []
    problems: list[tuple[Path, str]] = []
    _scan(value, path, refs, problems)
    return refs, problems


def _scan(
    value: Any, path: Path, refs: list[tuple[Path, Ref]], problems: list[tuple[Path, str]]
) -> None:
    if isinstance(value, str):
        if not has_refs(value):
            return
        try:
            parts = split(value)
        except ValueError as e:
            problems.append((path, str(e)))
            return
        refs.extend((path, p) for p in parts if isinstance(p, Ref))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _scan(v, (*path, k), refs, problems)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _scan(v, (*path, i), refs, problems)


def find_refs(value: Any) -> list[Ref]:
    """Every reference in a nested value, in document order.

    Raises:
        ValueError: a string holds a malformed reference (the first one found).
    """
    refs, problems = scan(value)
    if problems:
        where, reason = problems[0]
        raise ValueError(f"{format_path(where)}: {reason}" if where else reason)
    return [ref for _, ref in refs]


def _lookup(ref: Ref, params: Mapping[str, Any], steps: Mapping[str, StepView]) -> Any:
    if ref.kind == "params":
        if ref.name not in params:
            raise ValueError(f"cannot resolve {ref.text}: no parameter {ref.name!r}")
        return params[ref.name]
    view = steps.get(ref.name)
    if view is None:
        raise ValueError(f"cannot resolve {ref.text}: step {ref.name!r} has no result")
    if ref.field == "status":
        return view["status"]
    outputs = view.get("outputs") or {}
    if ref.field not in outputs:
        raise ValueError(
            f"cannot resolve {ref.text}: step {ref.name!r} has no output {ref.field!r}"
        )
    return outputs[ref.field]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _resolve_str(text: str, params: Mapping[str, Any], steps: Mapping[str, StepView]) -> Any:
    if not has_refs(text):
        return text
    parts = split(text)
    if len(parts) == 1 and isinstance(parts[0], Ref):
        return _lookup(parts[0], params, steps)
    return "".join(_as_text(_lookup(p, params, steps)) if isinstance(p, Ref) else p for p in parts)


def resolve(value: Any, *, params: Mapping[str, Any], steps: Mapping[str, StepView]) -> Any:
    """A copy of ``value`` with every reference replaced by its value.

    Args:
        value: a step's ``with`` or any part of it.
        params: parameter values by name.
        steps: finished steps' results by id (``status`` and ``outputs``).

    Raises:
        ValueError: a reference is malformed or names a parameter, step or output that has no
            value; the message names the reference.
    """
    if isinstance(value, str):
        return _resolve_str(value, params, steps)
    if isinstance(value, Mapping):
        return {k: resolve(v, params=params, steps=steps) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, params=params, steps=steps) for v in value]
    return value
