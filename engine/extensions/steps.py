"""Checking a step's inputs and outputs against its declaration.

Inputs are what a melody's ``with`` (or a direct call) gives; they are checked before the
extension runs, so it never sees a wrong type or a missing required value, and defaults are
filled in. Outputs are checked after it returns, so a buggy extension is caught at its own
boundary instead of confusing the next step.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from engine.types.errors import StepInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.extensions.manifest import FieldSpec

__all__ = ["check_inputs", "check_outputs", "in_enum", "type_matches"]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def type_matches(kind: str, value: Any) -> bool:
    """Whether ``value`` has the declared field type (``bool`` is not an integer)."""
    if kind == "any":
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _PY_TYPES[kind])


def in_enum(allowed: list[Any], value: Any) -> bool:
    """Whether ``value`` is one of ``allowed`` (``True`` is not ``1``, as in JSON)."""
    return any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in allowed)


def _describe(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        tuple: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _check_value(where: str, name: str, spec: FieldSpec, value: Any) -> None:
    if not type_matches(spec.type, value):
        raise StepInputError(f"{where}: {name!r} must be {spec.type}, got {_describe(value)}")
    if spec.enum is not None and not in_enum(spec.enum, value):
        allowed = ", ".join(repr(v) for v in spec.enum)
        raise StepInputError(f"{where}: {name!r} must be one of {allowed}, got {value!r}")
    if spec.items is not None:
        for i, item in enumerate(value):
            if not type_matches(spec.items, item):
                raise StepInputError(
                    f"{where}: {name}[{i}] must be {spec.items}, got {_describe(item)}"
                )


def check_inputs(
    where: str, fields: Mapping[str, FieldSpec], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``values`` against ``fields`` and return them with defaults filled in.

    Args:
        where: names the step in messages (``"step type shell.run"``).

    Raises:
        StepInputError: an unknown name, a missing required value, or a wrong type or value.
    """
    unknown = sorted(set(values) - set(fields))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(fields) or "none"
        raise StepInputError(f"{where}: unknown input {unknown[0]!r}{hint} (inputs: {known})")
    result: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in values and values[name] is not None:
            _check_value(where, name, spec, values[name])
            result[name] = values[name]
        elif spec.required:
            raise StepInputError(f"{where}: required input {name!r} is missing")
        else:
            result[name] = copy.deepcopy(spec.default)  # a step may change its inputs
    return result


def check_outputs(
    where: str, fields: Mapping[str, FieldSpec], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate what a step returned: only declared outputs, each of its declared type.

    Raises:
        StepInputError: the extension returned something its manifest does not declare.
    """
    if not isinstance(values, dict):
        raise StepInputError(f"{where}: the step returned {_describe(values)}, not an object")
    for name, value in values.items():
        spec = fields.get(name)
        if spec is None:
            raise StepInputError(f"{where}: returned undeclared output {name!r}")
        if value is not None:
            _check_value(where, f"output {name}", spec, value)
    return dict(values)
