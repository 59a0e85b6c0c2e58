"""Parsing the data formats Symphony reads (TOML, JSON, YAML) with one kind of error.

Configuration files and melodies accept the same three formats and report syntax errors the
same way: the parser's reason with the line and column where the parser gives them. Callers
turn :class:`SyntaxProblem` into their own error naming the file.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

__all__ = ["FORMATS", "SyntaxProblem", "parse_structured"]

FORMATS = ("toml", "json", "yaml", "yml")


class SyntaxProblem(ValueError):
    """The text does not parse in the given format; the message says why and where."""


def parse_structured(text: str, kind: str) -> Any:
    """Parse ``text`` as ``kind`` (``toml``, ``json``, ``yaml`` or ``yml``).

    Raises:
        SyntaxProblem: invalid syntax, or an unknown ``kind``.
    """
    if kind == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SyntaxProblem(f"invalid TOML: {e}") from e
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            where = f"line {e.lineno}, column {e.colno}"
            raise SyntaxProblem(f"invalid JSON: {e.msg} (at {where})") from e
    if kind in ("yaml", "yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            mark = getattr(e, "problem_mark", None)
            where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise SyntaxProblem(f"invalid YAML: {problem}{where}") from e
    raise SyntaxProblem(f"unsupported format {kind!r}")
