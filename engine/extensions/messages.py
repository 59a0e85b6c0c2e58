"""Commands, replies and events of the extension manager on the bus."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.extensions.lifecycle import ExtensionStatus, State
from engine.types.messages import Command, Event, Reply

__all__ = [
    "CancelInstall",
    "ExtensionDetail",
    "ExtensionList",
    "ExtensionMetrics",
    "ExtensionStateChanged",
    "GetExtensionDetail",
    "InstallDone",
    "InstallExtension",
    "InstallProgress",
    "InstallReview",
    "ListExtensions",
    "ListStepTypes",
    "MarketplaceEntry",
    "MarketplaceListing",
    "ReviewInstall",
    "ReviewedExtension",
    "RunStep",
    "SearchMarketplace",
    "SetExtensionEnabled",
    "StepDone",
    "StepTypeInfo",
    "StepTypeList",
]


class ListExtensions(Command, frozen=True, kw_only=True):
    """Every extension with its state. Replies :class:`ExtensionList`."""


class SetExtensionEnabled(Command, frozen=True, kw_only=True):
    """Enable or disable an extension persistently. Replies :class:`ExtensionList` (one entry)."""

    id: str
    enabled: bool


class RunStep(Command, frozen=True, kw_only=True):
    """Run one step type with inputs. Replies :class:`StepDone`."""

    step_type: str
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    extension: str | None = None
    timeout_s: float | None = None


class ListStepTypes(Command, frozen=True, kw_only=True):
    """Every step type enabled extensions offer. Replies :class:`StepTypeList`."""


class StepTypeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One step type: what a melody's ``uses`` names, who offers it, its config schema."""

    type: str
    title: str
    description: str
    #: Extensions offering it, first is the one declared first (the conductor chooses).
    providers: tuple[str, ...]
    #: The ``with`` values as a JSON Schema object (``properties``, ``required``).
    input_schema: dict[str, Any]
    outputs: tuple[str, ...] = ()


class StepTypeList(Reply, frozen=True, kw_only=True):
    """Step types, sorted by name."""

    types: tuple[StepTypeInfo, ...]


class ExtensionList(Reply, frozen=True, kw_only=True):
    """Extensions' statuses."""

    extensions: tuple[ExtensionStatus, ...]


class StepDone(Reply, frozen=True, kw_only=True):
    """A step's outputs."""

    extension: str
    step_type: str
    outputs: dict[str, Any]
    duration_ms: float


class ExtensionStateChanged(Event, frozen=True, kw_only=True):
    """An extension moved to another lifecycle state (or was enabled/disabled)."""

    id: str
    state: State
    reason: str = ""


# --- details, the marketplace and installs ---------------------------------------------------


class GetExtensionDetail(Command, frozen=True, kw_only=True):
    """One extension's status, permissions and call metrics. Replies :class:`ExtensionDetail`."""

    id: str


class ExtensionMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """This session's step calls of one extension; latencies in milliseconds (None: no calls)."""

    calls: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class ExtensionDetail(Reply, frozen=True, kw_only=True):
    """What the extensions view shows about one extension."""

    status: ExtensionStatus
    metrics: ExtensionMetrics
    #: It runs in its own process inside a bubblewrap sandbox.
    sandboxed: bool
    #: Why it is not sandboxed ("" when it is).
    sandbox_note: str = ""
    #: The permission review's lines for it (what it may do, where it runs).
    review: tuple[str, ...] = ()
    requires: dict[str, str] = msgspec.field(default_factory=dict)
    authors: tuple[str, ...] = ()
    license: str = ""


class SearchMarketplace(Command, frozen=True, kw_only=True):
    """The configured marketplace index's extensions whose id, name or description contain
    every word of ``query``. Replies :class:`MarketplaceListing`."""

    query: str = ""


class MarketplaceEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One extension the index lists, with its latest version and what is installed."""

    id: str
    name: str
    type: str
    description: str
    latest: str
    versions: tuple[str, ...]
    #: The installed version (None: not installed).
    installed: str | None = None
    #: What the latest version declares it needs, as the index says (the archive's manifest is
    #: what the review shows).
    permissions: dict[str, list[str]] = msgspec.field(default_factory=dict)


class MarketplaceListing(Reply, frozen=True, kw_only=True):
    """The matching entries, in index order."""

    index: str
    entries: tuple[MarketplaceEntry, ...]


class ReviewInstall(Command, frozen=True, kw_only=True):
    """Stage ``ref`` (``ID[@VERSION]`` from the index, a folder or an archive path, relative
    to the workspace) and its dependencies, and return the permission review, installing
    nothing. Replies :class:`InstallReview`."""

    ref: str


class ReviewedExtension(msgspec.Struct, frozen=True, kw_only=True):
    """One extension an install would put in place, and what it may do."""

    id: str
    name: str
    version: str
    type: str
    #: ``install``, ``update`` or ``reinstall``.
    action: str
    #: The review's heading (``Install acme.x 1.0.0 (operator, new) from index …``).
    heading: str
    origin: str
    previous: str | None = None
    #: Installed only because another extension requires it.
    required: bool = False
    sha256: str | None = None
    manifest_hash: str = ""
    requires: dict[str, str] = msgspec.field(default_factory=dict)
    #: Everything it grants (by permission name, plus ``runtime``: where it runs).
    grants: dict[str, list[str]] = msgspec.field(default_factory=dict)
    #: What an update adds to the installed version's permissions.
    widened: dict[str, list[str]] = msgspec.field(default_factory=dict)
    #: The review's lines, as the CLI prints them.
    lines: tuple[str, ...] = ()
    needs_confirmation: bool = True


class InstallReview(Reply, frozen=True, kw_only=True):
    """The permission review of an install; accept it by sending ``review_hash`` back with
    :class:`InstallExtension`."""

    ref: str
    extensions: tuple[ReviewedExtension, ...]
    #: Things left as they are (``acme.x 1.0.0 is already installed``).
    notes: tuple[str, ...] = ()
    needs_confirmation: bool = False
    #: SHA-256 over the extensions reviewed (ids, versions, manifest and archive hashes,
    #: grants): the install is refused if what it would install differs.
    review_hash: str


class InstallExtension(Command, frozen=True, kw_only=True):
    """Install ``ref`` after the user accepted exactly the review with ``review_hash``, then
    load what was installed. Emits :class:`InstallProgress` (tagged with ``operation``) and
    :class:`ExtensionStateChanged`; replies :class:`InstallDone`."""

    ref: str
    review_hash: str
    #: The caller's id for this install: its progress events carry it, and
    #: :class:`CancelInstall` names it.
    operation: str = ""


class CancelInstall(Command, frozen=True, kw_only=True):
    """Stop the install ``operation`` before it commits (nothing is installed then); once it
    has committed it runs to the end. Replies ``Ack``."""

    operation: str


class InstallDone(Reply, frozen=True, kw_only=True):
    """The extensions installed and their status after loading."""

    ref: str
    installed: tuple[ExtensionStatus, ...]
    notes: tuple[str, ...] = ()


class InstallProgress(Event, frozen=True, kw_only=True):
    """An install moved on: ``fraction`` of the way (None: unknown), ``message`` says what it
    does now; ``done`` on the last one (``error`` set when it failed or was cancelled)."""

    operation: str
    ref: str
    fraction: float | None
    message: str
    done: bool = False
    error: str = ""
