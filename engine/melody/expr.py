"""``when`` conditions: a small, safe expression language over parameters and step results.

A condition is parsed with Python's :mod:`ast` and compiled into plain closures; nothing is ever
passed to ``eval``. Only these forms are accepted: ``and``, ``or``, ``not``; comparisons (``==``,
``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``); constants (strings, numbers,
``True``, ``False``, ``None``); list and tuple literals; and the names ``params`` and ``steps``
followed by attribute or ``[...]`` access: ``params.NAME``, ``steps.ID.status``,
``steps.ID.outputs.NAME`` (then keys or indices into the value). ``steps['my-step']`` reaches ids
that are not Python names. Anything else is refused when the melody is validated, with a reason
a user can act on.

Evaluation never raises on missing data: an unknown parameter, a step without a result or an
output it did not produce read as ``None``, and an ordering comparison between values that
cannot be ordered (``None < 3``) is false. This module must not know about step types.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Condition", "compile_when"]

_Eval = Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], Any]

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.Lt: lambda a, b: bool(a < b),
    ast.LtE: lambda a, b: bool(a <= b),
    ast.Gt: lambda a, b: bool(a > b),
    ast.GtE: lambda a, b: bool(a >= b),
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
# What a comparison means when its operands cannot be compared (None < 3, 1 in None).
_INCOMPARABLE: dict[type[ast.cmpop], bool] = {ast.NotIn: True}

_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed in `when`",
    ast.Lambda: "lambda expressions are not allowed in `when`",
    ast.BinOp: "arithmetic is not allowed in `when`",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed in `when`; use and/or",
    ast.ListComp: "comprehensions are not allowed in `when`",
    ast.SetComp: "comprehensions are not allowed in `when`",
    ast.DictComp: "comprehensions are not allowed in `when`",
    ast.GeneratorExp: "comprehensions are not allowed in `when`",
    ast.Dict: "dict literals are not allowed in `when`",
    ast.Set: "set literals are not allowed in `when`; use a list",
    ast.NamedExpr: "assignments (:=) are not allowed in `when`",
    ast.JoinedStr: "f-strings are not allowed in `when`",
    ast.Starred: "* unpacking is not allowed in `when`",
    ast.Await: "await is not allowed in `when`",
    ast.Slice: "slices are not allowed in `when`",
}
_SPELLINGS = {"true": "True", "false": "False", "null": "None", "none": "None", "nil": "None"}
_ROOTS = ("params", "steps")


@dataclass(frozen=True)
class Condition:
    """A compiled ``when`` condition.

    Attributes:
        source: the condition as written.
        step_refs: ids of the steps it reads (the step depends on them).
        param_refs: names of the parameters it reads.
        output_refs: ``(step id, output name)`` pairs it reads.
    """

    source: str
    step_refs: frozenset[str]
    param_refs: frozenset[str]
    output_refs: frozenset[tuple[str, str]] = frozenset()
    _fn: _Eval = field(default=lambda p, s: True, repr=False, compare=False)

    def evaluate(
        self, *, params: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]
    ) -> bool:
        """Whether the condition holds.

        Args:
            params: parameter values by name.
            steps: results of finished steps by id, each a mapping with ``status`` and
                ``outputs``; a step that has not run is simply absent.
        """
        return bool(self._fn(params, steps))


@functools.lru_cache(maxsize=1024)
def compile_when(text: str) -> Condition:
    """Parse and check a ``when`` condition.

    Raises:
        ValueError: the text is not valid syntax or uses a form that is not allowed; the message
            says which (``function calls are not allowed in `when```).
    """
    if not text.strip():
        raise ValueError("`when` is empty")
    body = text.strip()
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as e:
        if e.offset and e.lineno == 1:
            where = f" (column {e.offset + len(text) - len(text.lstrip())})"
        elif e.offset and e.lineno:
            where = f" (line {e.lineno}, column {e.offset})"
        else:
            where = " (at the end)"
        detail = "" if e.msg == "invalid syntax" else f": {e.msg}"
        raise ValueError(f"invalid syntax in `when`{detail}{where}") from None
    compiler = _Compiler()
    fn = compiler.expr(tree.body)
    return Condition(
        source=text,
        step_refs=frozenset(compiler.steps),
        param_refs=frozenset(compiler.params),
        output_refs=frozenset(compiler.outputs),
        _fn=fn,
    )


def _index(value: Any, key: str | int) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    if isinstance(key, int) and isinstance(value, list | tuple) and -len(value) <= key < len(value):
        return value[key]
    return None


def _compare(op: type[ast.cmpop], a: Any, b: Any) -> bool:
    try:
        return _COMPARE[op](a, b)
    except TypeError:
        return _INCOMPARABLE.get(op, False)


class _Compiler:
    """Turns an allowed AST into closures and records what it reads."""

    def __init__(self) -> None:
        self.steps: set[str] = set()
        self.params: set[str] = set()
        self.outputs: set[tuple[str, str]] = set()

    def expr(self, node: ast.expr) -> _Eval:
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Constant):
            value = self._constant(node)
            return lambda p, s: value
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.expr(e) for e in node.elts]
            kind = list if isinstance(node, ast.List) else tuple
            return lambda p, s: kind(f(p, s) for f in items)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return self._access(node)
        raise ValueError(self._refusal(node))

    @staticmethod
    def _refusal(node: ast.AST) -> str:
        for kind, reason in _REFUSED.items():
            if isinstance(node, kind):
                return reason
        return f"{type(node).__name__} expressions are not allowed in `when`"

    def _boolop(self, node: ast.BoolOp) -> _Eval:
        parts = [self.expr(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda p, s: all(f(p, s) for f in parts)
        return lambda p, s: any(f(p, s) for f in parts)

    def _unary(self, node: ast.UnaryOp) -> _Eval:
        if isinstance(node.op, ast.Not):
            inner = self.expr(node.operand)
            return lambda p, s: not inner(p, s)
        if isinstance(node.op, ast.USub | ast.UAdd) and isinstance(node.operand, ast.Constant):
            number = node.operand.value
            if isinstance(number, int | float) and not isinstance(number, bool):
                value = -number if isinstance(node.op, ast.USub) else number
                return lambda p, s: value
        raise ValueError("arithmetic is not allowed in `when` (only `not` and a sign on a number)")

    def _compare(self, node: ast.Compare) -> _Eval:
        for op in node.ops:
            if isinstance(op, ast.Is | ast.IsNot):
                raise ValueError("`is` is not allowed in `when`; use == or != (x == None)")
        ops = [type(op) for op in node.ops]
        operands = [self.expr(node.left), *(self.expr(c) for c in node.comparators)]

        def compare(p: Mapping[str, Any], s: Mapping[str, Mapping[str, Any]]) -> bool:
            left = operands[0](p, s)
            for op, get_right in zip(ops, operands[1:], strict=True):
                right = get_right(p, s)
                if not _compare(op, left, right):
                    return False
                left = right
            return True

        return compare

    @staticmethod
    def _constant(node: ast.Constant) -> Any:
        value = node.value
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise ValueError(f"the constant {value!r} is not allowed in `when`")

    def _access(self, node: ast.expr) -> _Eval:
        keys: list[str | int] = []
        while not isinstance(node, ast.Name):
            if isinstance(node, ast.Attribute):
                keys.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Subscript):
                keys.append(self._key(node.slice))
                node = node.value
            elif isinstance(node, ast.Call):
                raise ValueError(_REFUSED[ast.Call])
            else:
                raise ValueError(
                    "attribute and [...] access are only allowed on `params` and `steps`"
                )
        keys.reverse()
        for key in keys:
            if isinstance(key, str) and key.startswith("__"):
                raise ValueError(f"names starting with '__' are not allowed in `when` ({key!r})")
        root = node.id
        if root == "params":
            return self._param(keys)
        if root == "steps":
            return self._step(keys)
        hint = f"; write {_SPELLINGS[root.lower()]}" if root.lower() in _SPELLINGS else ""
        raise ValueError(
            f"unknown name {root!r} in `when`{hint} (only `params` and `steps` can be used)"
        )

    @staticmethod
    def _key(node: ast.expr) -> str | int:
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
        ):
            return -node.operand.value
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str | int)
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, ast.Slice):
            raise ValueError(_REFUSED[ast.Slice])
        raise ValueError("only a constant string or integer may be used inside [...] in `when`")

    def _param(self, keys: list[str | int]) -> _Eval:
        if not keys or not isinstance(keys[0], str):
            raise ValueError("`params` must be followed by a parameter name: params.NAME")
        name, rest = keys[0], keys[1:]
        self.params.add(name)

        def get(p: Mapping[str, Any], s: Mapping[str, Mapping[str, Any]]) -> Any:
            value = p.get(name)
            for key in rest:
                value = _index(value, key)
            return value

        return get

    def _step(self, keys: list[str | int]) -> _Eval:
        if not keys or not isinstance(keys[0], str):
            raise ValueError("`steps` must be followed by a step id: steps.ID.status")
        step_id = keys[0]
        if len(keys) < 2 or keys[1] not in ("status", "outputs"):
            got = f", not .{keys[1]}" if len(keys) >= 2 else ""
            raise ValueError(f"steps.{step_id} must be followed by .status or .outputs.NAME{got}")
        self.steps.add(step_id)
        if keys[1] == "status":
            if len(keys) > 2:
                raise ValueError(f"nothing can follow steps.{step_id}.status")

            def status(p: Mapping[str, Any], s: Mapping[str, Mapping[str, Any]]) -> Any:
                view = s.get(step_id)
                return None if view is None else view.get("status")

            return status
        if len(keys) < 3 or not isinstance(keys[2], str):
            raise ValueError(f"steps.{step_id}.outputs must be followed by an output name")
        output, rest = keys[2], keys[3:]
        self.outputs.add((step_id, output))

        def get(p: Mapping[str, Any], s: Mapping[str, Mapping[str, Any]]) -> Any:
            view = s.get(step_id)
            value = None if view is None else _index(view.get("outputs") or {}, output)
            for key in rest:
                value = _index(value, key)
            return value

        return get
