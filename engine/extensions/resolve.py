"""Dependency resolution between extensions by semantic version ranges.

Given the extensions being installed (their ``requires``), the ones already present and the
versions a marketplace index offers, :func:`resolve` picks, for every required extension that
is missing or whose installed version does not fit, the highest index version that every
requirer allows — then follows the picked versions' own ``requires``, until nothing changes.
A requirement nothing can satisfy, or two requirers that cannot agree, is an
:class:`InstallError` naming who requires what. Pure: no I/O (the caller passes the index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.extensions.semver import Range, Version, highest
from engine.types.errors import InstallError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.extensions.marketplace import IndexVersion

__all__ = ["Node", "Present", "resolve"]

#: Rounds of re-picking before giving up (each round changes at least one pick).
MAX_ROUNDS = 100


@dataclass(frozen=True, slots=True)
class Node:
    """An extension version being installed, by id, version and what it requires."""

    id: str
    version: Version
    requires: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.id} {self.version}"


@dataclass(frozen=True, slots=True)
class Present:
    """An extension present now.

    Attributes:
        replaceable: the installer may replace it (it is in the user's extensions folder and
            not linked for development).
        where: where it comes from, for messages (``built in``, a folder).
    """

    node: Node
    replaceable: bool
    where: str


@dataclass(frozen=True, slots=True)
class _Need:
    requirer: str
    range: Range

    def __str__(self) -> str:
        return f"{self.requirer} requires {self.range}"


def _needs(chosen: Mapping[str, Node], present: Mapping[str, Present]) -> dict[str, list[_Need]]:
    """What every extension that will be there requires, by required id."""
    needs: dict[str, list[_Need]] = {}
    nodes = list(chosen.values()) + [p.node for i, p in present.items() if i not in chosen]
    for node in nodes:
        for dep, spec in node.requires.items():
            needs.setdefault(dep, []).append(_Need(node.label, Range.parse(spec)))
    return needs


def resolve(
    explicit: Mapping[str, Node],
    present: Mapping[str, Present],
    available: Callable[[str], list[IndexVersion]] | None,
) -> dict[str, IndexVersion]:
    """The index versions to install so that every requirement holds.

    Args:
        explicit: the extensions the user asked for, by id (never re-picked).
        present: every extension present now, by id.
        available: the index's versions of an id that this Symphony can run (empty when the
            index does not list it); None when no index is configured.

    Raises:
        InstallError: a requirement cannot be met; the message names the requirers, the
            ranges and what exists.
    """
    picks: dict[str, IndexVersion] = {}
    for _round in range(MAX_ROUNDS):
        chosen: dict[str, Node] = dict(explicit)
        chosen.update({i: Node(i, v.semver, v.requires) for i, v in picks.items()})
        changed = False
        for dep, needs in sorted(_needs(chosen, present).items()):
            ranges = [n.range for n in needs]
            if dep in chosen:
                node = chosen[dep]
                if all(r.allows(node.version) for r in ranges):
                    continue
                if dep in explicit:
                    bad = next(n for n in needs if not n.range.allows(node.version))
                    raise InstallError(
                        f"cannot install {node.label}: {bad.requirer} requires {dep} {bad.range}"
                    )
            elif dep in present:
                have = present[dep]
                if all(r.allows(have.node.version) for r in ranges):
                    continue
                if not have.replaceable:
                    bad = next(n for n in needs if not n.range.allows(have.node.version))
                    raise InstallError(
                        f"{bad.requirer} requires {dep} {bad.range}, but {have.node.label}"
                        f" ({have.where}) does not match and the installer cannot replace it"
                    )
            picks[dep] = _pick(dep, needs, present.get(dep), available)
            changed = True
            break  # re-derive every requirement from the new set of picks
        if not changed:
            return picks
    raise InstallError("dependency resolution did not settle; the requirements keep changing")


def _pick(
    dep: str,
    needs: list[_Need],
    have: Present | None,
    available: Callable[[str], list[IndexVersion]] | None,
) -> IndexVersion:
    wanted = "; ".join(str(n) for n in needs)
    state = f"{have.node.label} is installed" if have else "it is not installed"
    if available is None:
        raise InstallError(
            f"{dep} is needed ({wanted}) but {state} and no marketplace index is configured"
            " (--index or extensions.marketplace)"
        )
    offered = available(dep)
    if not offered:
        raise InstallError(f"{dep} is needed ({wanted}) but {state} and the index does not list it")
    best = highest([v.semver for v in offered], *(n.range for n in needs))
    if best is None:
        versions = ", ".join(str(v) for v in sorted(v.semver for v in offered))
        raise InstallError(
            f"no version of {dep} satisfies every requirement ({wanted}); the index has {versions}"
        )
    return next(v for v in offered if v.semver == best)
