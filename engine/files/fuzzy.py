"""Fuzzy file-name matching for quick-open: subsequence matches, scored and ranked.

A query matches a path when its characters appear in the path in order (case-insensitive).
Matches score higher when the characters are consecutive, start words (after ``/``, ``_``,
``-``, ``.``, a space, or at a lower→upper case change), fall in the file's base name, or when
the query is a substring of the base name; shorter paths win ties. Pure functions: no I/O.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["FuzzyMatch", "rank", "score"]

_SEPARATORS = frozenset("/_-. ")
CONSECUTIVE_BONUS = 6.0
BOUNDARY_BONUS = 8.0
BASENAME_BONUS = 2.0
BASENAME_SUBSTRING_BONUS = 25.0
BASENAME_PREFIX_BONUS = 15.0
LENGTH_PENALTY = 0.05


@dataclass(frozen=True)
class FuzzyMatch:
    """A matched path, its score (higher is better) and the matched character positions."""

    score: float
    path: str
    positions: tuple[int, ...]


def _boundary(path: str, i: int) -> bool:
    if i == 0:
        return True
    prev = path[i - 1]
    return prev in _SEPARATORS or (prev.islower() and path[i].isupper())


def _greedy(lower: str, query: str, start: int) -> list[int] | None:
    """Positions of ``query`` in ``lower`` from ``start``, each as early as possible."""
    positions: list[int] = []
    at = start
    for ch in query:
        at = lower.find(ch, at)
        if at < 0:
            return None
        positions.append(at)
        at += 1
    return positions


def _backward(lower: str, query: str) -> list[int] | None:
    """Positions of ``query`` in ``lower``, each as late as possible (favours the base name)."""
    positions: list[int] = []
    at = len(lower)
    for ch in reversed(query):
        at = lower.rfind(ch, 0, at)
        if at < 0:
            return None
        positions.append(at)
    positions.reverse()
    return positions


def _tighten(lower: str, query: str, positions: list[int]) -> list[int]:
    """Move each match (but the last) as late as it can go, closing gaps before the next one."""
    tight = list(positions)
    for k in range(len(query) - 2, -1, -1):
        later = lower.rfind(query[k], tight[k], tight[k + 1])
        if later >= 0:
            tight[k] = later
    return tight


def _rate(path: str, positions: list[int], base_start: int) -> float:
    total = 0.0
    for k, i in enumerate(positions):
        total += 1.0
        if k and positions[k - 1] == i - 1:
            total += CONSECUTIVE_BONUS
        if _boundary(path, i):
            total += BOUNDARY_BONUS
        if i >= base_start:
            total += BASENAME_BONUS
    return total


def score(query: str, path: str) -> FuzzyMatch | None:
    """Score ``path`` against ``query``; None when the query is not a subsequence of it.

    An empty query matches everything with score 0, so callers can list files unfiltered.
    """
    if not query:
        return FuzzyMatch(-LENGTH_PENALTY * len(path), path, ())
    q = query.lower()
    lower = path.lower()
    forward = _greedy(lower, q, 0)
    if forward is None:
        return None
    base_start = lower.rfind("/") + 1
    candidates = [forward, _tighten(lower, q, forward)]
    backward = _backward(lower, q)
    if backward is not None:
        candidates.append(backward)
    sub = lower.find(q, base_start)
    if sub >= 0:
        candidates.append(list(range(sub, sub + len(q))))
    best = max(candidates, key=lambda p: _rate(path, p, base_start))
    total = _rate(path, best, base_start) - LENGTH_PENALTY * len(path)
    if sub >= 0:
        total += BASENAME_SUBSTRING_BONUS
        if sub == base_start:
            total += BASENAME_PREFIX_BONUS
    return FuzzyMatch(total, path, tuple(best))


def _prefilter(query: str) -> re.Pattern[str]:
    """A regex that finds the subsequence quickly, so only real matches are scored."""
    return re.compile(".*?".join(re.escape(ch) for ch in query.lower()), re.IGNORECASE)


def rank(query: str, paths: Iterable[str], limit: int = 50) -> list[FuzzyMatch]:
    """The best ``limit`` matches of ``query`` among ``paths``, best first (ties: shorter, then
    alphabetical)."""
    matches: list[FuzzyMatch] = []
    if query:
        search = _prefilter(query).search
        paths = (p for p in paths if search(p))
    for path in paths:
        found = score(query, path)
        if found is not None:
            matches.append(found)
    return heapq.nsmallest(limit, matches, key=lambda m: (-m.score, len(m.path), m.path))
