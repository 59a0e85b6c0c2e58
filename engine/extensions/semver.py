"""Semantic versions and the version ranges extensions use to require each other.

Extension versions are semantic versions (``MAJOR.MINOR.PATCH[-PRE][+BUILD]``, ordered as the
semver 2.0 specification says: build metadata is ignored, a pre-release sorts before its
release). A range (``[extension] requires = { "acme.base" = ">=1.2,<2" }``) is comparators
joined by commas, all of which must hold:

- ``>=V``, ``>V``, ``<=V``, ``<V``, ``==V`` (or a bare ``V``), ``!=V``;
- ``^V``: compatible with V (same major; for ``0.x`` the same minor);
- ``~V``: same major and minor as V, at least V;
- ``*`` (or an empty range): any version.

``V`` may leave out the minor and patch (``<2`` is ``<2.0.0``). A pre-release satisfies a range
only when one of the range's comparators names a pre-release of the same ``MAJOR.MINOR.PATCH``
(as npm does), so ``>=1.0`` never picks ``2.0.0-rc.1``. This module is pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Range", "Version", "VersionError", "highest"]

_VERSION = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_PARTIAL = re.compile(
    r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_OPERATORS = (">=", "<=", "==", "!=", ">", "<", "^", "~", "=")


class VersionError(ValueError):
    """A version or a range is malformed; the message says what was expected."""


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """One semantic version; compares by semver precedence."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``.

        Raises:
            VersionError: ``text`` is not a semantic version.
        """
        match = _VERSION.match(text.strip())
        if match is None:
            raise VersionError(f"not a semantic version such as '1.2.0' (got {text!r})")
        major, minor, patch, pre, build = match.groups()
        return cls(
            int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or ""
        )

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric.
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.pre)
        return (self.release, 0 if self.pre else 1, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        return text + (f"+{self.build}" if self.build else "")


@dataclass(frozen=True, slots=True)
class _Comparator:
    op: str
    version: Version
    parts: int  # how many of MAJOR.MINOR.PATCH were written (for ^ and ~)

    def allows(self, v: Version) -> bool:
        c = self.version
        if self.op in ("==", "="):
            return v == c
        if self.op == "!=":
            return v != c
        if self.op == ">=":
            return v >= c
        if self.op == ">":
            return v > c
        if self.op == "<=":
            return v <= c
        if self.op == "<":
            return v < c
        if self.op == "~":
            upper = (c.major + 1, 0, 0) if self.parts == 1 else (c.major, c.minor + 1, 0)
            return v >= c and v.release < upper
        # "^": the left-most non-zero part written must not change.
        if c.major > 0 or self.parts == 1:
            upper = (c.major + 1, 0, 0)
        elif c.minor > 0 or self.parts == 2:
            upper = (0, c.minor + 1, 0)
        else:
            upper = (0, 0, c.patch + 1)
        return v >= c and v.release < upper


@dataclass(frozen=True, slots=True)
class Range:
    """A version range such as ``>=1.2,<2``; ``text`` is what was written."""

    text: str
    comparators: tuple[_Comparator, ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse a comma-separated list of comparators (see the module docstring).

        Raises:
            VersionError: a comparator is malformed; the message names it.
        """
        stripped = text.strip()
        if stripped in ("", "*"):
            return cls(stripped or "*", ())
        comparators: list[_Comparator] = []
        for raw in stripped.split(","):
            part = raw.strip()
            op = next((o for o in _OPERATORS if part.startswith(o)), "==")
            rest = part[len(op) :].strip() if part.startswith(op) else part
            match = _PARTIAL.match(rest)
            if match is None:
                raise VersionError(
                    f"{part!r} is not a version comparison such as '>=1.2' or '^1.4.0'"
                    f" (in {text!r})"
                )
            major, minor, patch, pre = match.groups()
            written = 1 + (minor is not None) + (patch is not None)
            version = Version(
                int(major), int(minor or 0), int(patch or 0), tuple(pre.split(".")) if pre else ()
            )
            comparators.append(_Comparator(op, version, written))
        return cls(stripped, tuple(comparators))

    def allows(self, version: Version) -> bool:
        """Whether ``version`` is in the range (pre-releases only when named; see above)."""
        if version.pre and not any(
            c.version.pre and c.version.release == version.release for c in self.comparators
        ):
            return False
        return all(c.allows(version) for c in self.comparators)

    def __str__(self) -> str:
        return self.text


def highest(versions: Iterable[Version], *ranges: Range) -> Version | None:
    """The highest of ``versions`` that every one of ``ranges`` allows, or None."""
    allowed = [v for v in versions if all(r.allows(v) for r in ranges)]
    return max(allowed) if allowed else None
