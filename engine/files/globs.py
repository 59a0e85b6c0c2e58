"""Workspace globs, as permissions and melodies write them.

A glob is matched against a workspace-relative POSIX path, anchored at the workspace root:

- ``*`` matches within one path segment, ``?`` one character of a segment, ``[abc]`` a set;
- ``**`` as a whole segment matches any number of segments (``**/*.py``, ``src/**``);
- a pattern **without** wildcards names a path and everything under it (``src`` grants the
  folder's contents; ``pyproject.toml`` the file);
- a pattern **with** wildcards must match the whole path: ``*.md`` matches ``README.md``, not
  ``notes.md/private.key``;
- ``!pattern`` takes a match back; the last matching pattern decides.

Patterns are checked when they are compiled: absolute patterns and ``..`` segments are refused
(they could only ever be meant to escape the workspace).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["GlobError", "GlobSet", "compile_globs"]

_WILD = re.compile(r"[*?\[]")


class GlobError(ValueError):
    """A glob is malformed or points outside the workspace."""


def _segment(seg: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = seg.find("]", i + 2 if i + 1 < len(seg) and seg[i + 1] in "!^" else i + 1)
            if end == -1:
                raise GlobError(f"unclosed '[' in {seg!r}")
            body = seg[i + 1 : end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _translate(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", pattern):
        raise GlobError(f"{pattern!r} is absolute; globs are relative to the workspace")
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise GlobError(f"{pattern!r} leaves the workspace ('..')")
    if "\\" in pattern:
        raise GlobError(f"{pattern!r}: use '/' between folders, not '\\'")
    if not segments:
        raise GlobError("empty glob")
    if not _WILD.search(pattern):
        # A plain path: itself and everything under it.
        return re.compile(re.escape("/".join(segments)) + r"(?:/.*)?")
    parts: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment(seg) + ("" if last else "/"))
    return re.compile("".join(parts))


class GlobSet:
    """Compiled patterns; :meth:`match_file` says whether a relative path is matched."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._rules: list[tuple[bool, re.Pattern[str]]] = []
        for pattern in patterns:
            negate = pattern.startswith("!")
            self._rules.append((negate, _translate(pattern[1:] if negate else pattern)))

    def match_file(self, rel: str) -> bool:
        """Whether ``rel`` is matched; a trailing ``/`` marks a folder (``src/`` is matched
        by ``src/**``)."""
        rel = rel.lstrip("/")
        matched = False
        for negate, regex in self._rules:
            if regex.fullmatch(rel):
                matched = not negate
        return matched


def compile_globs(patterns: Sequence[str]) -> GlobSet | None:
    """Compile ``patterns``; None when there are none (matches nothing).

    Raises:
        GlobError: a pattern is malformed, absolute or contains ``..``.
    """
    return GlobSet(patterns) if patterns else None
