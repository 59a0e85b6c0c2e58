"""What is installed, and what an install, update or removal will do.

:func:`find_installed` lists every extension visible now and which of them the installer
manages (an entry in the user's extensions folder). :class:`Plan` is the result of planning an
install or update: the staged :class:`Candidate` versions, each with the installed version it
replaces and the permissions it adds; :class:`Removal` is a planned removal. Data only: this
module changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.extensions.discovery import discover
from engine.extensions.manifest import MANIFEST_NAME
from engine.extensions.review import widening
from engine.extensions.semver import Version

if TYPE_CHECKING:
    from pathlib import Path

    from engine.extensions.manifest import Manifest

__all__ = ["Candidate", "Installed", "Plan", "Removal", "find_installed"]


@dataclass(frozen=True, slots=True)
class Installed:
    """An extension present now.

    Attributes:
        path: its folder (links resolved).
        source: ``builtin``, ``entry_point`` or ``folder``.
        entry: its entry in the user's extensions folder (None: it is elsewhere).
        linked: that entry is a link to a development folder (``carets dev``).
    """

    manifest: Manifest
    path: Path
    source: str
    entry: Path | None
    linked: bool

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> Version:
        return Version.parse(self.manifest.extension.version)

    @property
    def replaceable(self) -> bool:
        return self.entry is not None and not self.linked

    def where(self) -> str:
        """Where it is, as a phrase: ``built into Symphony``, ``in /path``…"""
        if self.source == "builtin":
            return "built into Symphony"
        if self.source == "entry_point":
            return f"from the Python package at {self.path}"
        if self.linked:
            return f"linked for development from {self.path}"
        return f"in {self.path}"


def find_installed(dirs: list[Path]) -> dict[str, Installed]:
    """Every valid extension visible from ``dirs`` (the user's extensions folder first), by id
    (the first one found wins, as in discovery)."""
    user_dir = dirs[0]
    entries: dict[Path, Path] = {}
    if user_dir.is_dir():
        for child in sorted(user_dir.iterdir()):
            if not child.name.startswith(".") and (child / MANIFEST_NAME).is_file():
                entries.setdefault(child.resolve(), child)
    found: dict[str, Installed] = {}
    for item in discover(dirs):
        if item.manifest is None or item.manifest.id in found:
            continue
        entry = entries.get(item.path) if item.source == "folder" else None
        linked = entry is not None and entry.is_symlink()
        found[item.manifest.id] = Installed(item.manifest, item.path, item.source, entry, linked)
    return found


@dataclass(slots=True)
class Candidate:
    """One extension version staged for installation.

    Attributes:
        folder: the staged copy (inside the transaction's staging folder).
        digest: SHA-256 of its manifest (pinned in the registry).
        origin: where it comes from, for the review (``archive X``, ``index URL``).
        sha256: the archive's SHA-256 (verified against the index when it came from one).
        previous: the installed version it replaces.
        replaces: the entry in the user's extensions folder moved aside for it (the previous
            version's, or a broken extension's folder with the same name).
        enable: enable it (True), or keep the registry's state (False: updates).
    """

    manifest: Manifest
    digest: str
    folder: Path
    origin: str
    sha256: str | None = None
    previous: Installed | None = None
    replaces: Path | None = None
    enable: bool = True

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> str:
        return self.manifest.extension.version

    @property
    def widened(self) -> dict[str, list[str]]:
        """The permissions added since the installed version (all of them when new)."""
        if self.previous is None:
            return {}
        return widening(self.previous.manifest, self.manifest)

    @property
    def needs_confirmation(self) -> bool:
        return self.previous is None or bool(self.widened)

    @property
    def required_only(self) -> bool:
        """A new dependency nobody named: installed because another extension requires it."""
        return self.previous is None and not self.enable

    def heading(self) -> str:
        """The review's heading: ``Install acme.x 1.0.0 (operator, new) from archive …``."""
        kind = self.manifest.extension.type
        if self.previous is None:
            action = f"Install {self.id} {self.version} ({kind}, new)"
        elif str(self.previous.version) == self.version:
            action = f"Reinstall {self.id} {self.version} ({kind})"
        else:
            action = f"Update {self.id} {self.previous.version} → {self.version} ({kind})"
        return f"{action} from {self.origin}" + (" (required)" if self.required_only else "")


@dataclass(slots=True)
class Plan:
    """What an install or update will do; ``notes`` are things left as they are."""

    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        """A new extension, or an update granting more than the installed version."""
        return any(c.needs_confirmation for c in self.candidates)


@dataclass(frozen=True, slots=True)
class Removal:
    """What ``remove`` will do: ``installed`` (None: only a stale registry row) and the
    installed extensions that require it (removed anyway with ``force``)."""

    id: str
    installed: Installed | None
    dependents: list[str]
