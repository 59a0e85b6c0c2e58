"""Glob topic patterns and the cache that maps a topic to the subscriptions matching it.

Patterns use :func:`fnmatch.fnmatchcase` semantics on dotted topics: ``evt.*`` matches
``evt.ConfigChanged`` (and ``evt.a.b``: ``*`` crosses dots), ``cmd.Get*`` matches ``cmd.GetHealth``,
``*`` matches everything; a pattern without ``*``, ``?`` or ``[`` matches only itself. Routes are
cached per topic and the whole cache is replaced whenever a subscription is added or removed, so
the publish path is one dictionary lookup. This module must not deliver messages or know about
queues; it only answers "who wants this topic".
"""

from __future__ import annotations

import fnmatch
import re
import threading
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` contains glob metacharacters (``*``, ``?`` or ``[``)."""
    return not _GLOB_CHARS.isdisjoint(pattern)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """Return a predicate telling whether a topic matches ``pattern`` (case-sensitive)."""
    if not is_glob(pattern):
        return lambda topic: topic == pattern
    match = re.compile(fnmatch.translate(pattern)).match
    return lambda topic: match(topic) is not None


class RouteTable(Generic[T]):
    """Patterns with their owners, and a bounded topic → matching owners cache.

    Reads are lock-free (a dictionary lookup); a miss computes the route under the lock. Adding or
    removing an owner swaps in an empty cache, so a publish that starts after ``add`` returns sees
    the new owner.
    """

    def __init__(self, cache_limit: int = 4096) -> None:
        self._lock = threading.Lock()
        self._entries: tuple[tuple[Callable[[str], bool], T], ...] = ()
        self._cache: dict[str, tuple[T, ...]] = {}
        self._cache_limit = cache_limit

    def add(self, pattern: str, owner: T) -> None:
        """Route topics matching ``pattern`` to ``owner`` (after every earlier owner)."""
        matcher = compile_pattern(pattern)
        with self._lock:
            self._entries = (*self._entries, (matcher, owner))
            self._cache = {}

    def remove(self, owner: T) -> None:
        """Stop routing anything to ``owner``; unknown owners are ignored."""
        with self._lock:
            self._entries = tuple(e for e in self._entries if e[1] is not owner)
            self._cache = {}

    def match(self, topic: str) -> tuple[T, ...]:
        """The owners whose pattern matches ``topic``, in the order they were added."""
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        with self._lock:
            found = tuple(owner for matcher, owner in self._entries if matcher(topic))
            if len(self._cache) >= self._cache_limit:
                # Dynamic topics must not grow memory without bound; starting over is cheap.
                self._cache = {}
            self._cache[topic] = found
        return found
