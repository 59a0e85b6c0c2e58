"""The extension detail, marketplace and install commands on the bus (for the TUI).

The installer (:mod:`engine.extensions.installer`) does the work, as for ``symphony ext
install``; this module only turns its plan into a :class:`InstallReview` the UI shows, checks
that an :class:`InstallExtension` installs exactly what the user accepted (the review's hash),
reports progress as events and hands what was installed to the running manager, which loads
it. It never asks anything: accepting is the caller's business. Handlers run on the bus's
delivery threads, never on the UI's.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from engine.extensions.messages import (
    CancelInstall,
    ExtensionDetail,
    ExtensionMetrics,
    GetExtensionDetail,
    InstallDone,
    InstallExtension,
    InstallProgress,
    InstallReview,
    MarketplaceEntry,
    MarketplaceListing,
    ReviewedExtension,
    ReviewInstall,
    SearchMarketplace,
)
from engine.types.errors import Cancelled, ExtensionError, InstallError, SymphonyError
from engine.types.messages import Ack

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from engine.config import SymphonyConfig
    from engine.extensions.installer import Installer
    from engine.extensions.lifecycle import ExtensionStatus
    from engine.extensions.manager import ExtensionManager
    from engine.extensions.plan import Candidate, Plan
    from engine.extensions.store import ExtensionsDB
    from engine.types.messages import Command, Event, Message

__all__ = ["InstallCommands", "review_of"]


@functools.cache
def _sandbox_problem() -> str | None:
    # Probing bubblewrap runs a process: once per engine process is enough.
    from engine.extensions.host import sandbox_problem

    return sandbox_problem()


def _reviewed(c: Candidate) -> ReviewedExtension:
    from engine.extensions.review import grants, review_lines

    previous = c.previous
    if previous is None:
        action = "install"
    elif str(previous.version) == c.version:
        action = "reinstall"
    else:
        action = "update"
    info = c.manifest.extension
    return ReviewedExtension(
        id=c.id,
        name=info.name,
        version=c.version,
        type=info.type,
        action=action,
        heading=c.heading(),
        origin=c.origin,
        previous=str(previous.version) if previous is not None else None,
        required=c.required_only,
        sha256=c.sha256,
        manifest_hash=c.digest,
        requires=dict(info.requires),
        grants=grants(c.manifest),
        widened=c.widened,
        lines=tuple(review_lines(c.manifest, previous.manifest if previous else None)),
        needs_confirmation=c.needs_confirmation,
    )


def review_of(ref: str, plan: Plan) -> InstallReview:
    """The permission review of ``plan``, with the hash an install must present."""
    extensions = tuple(_reviewed(c) for c in plan.candidates)
    # Everything that decides what lands on disk and what it may do; the origin's wording
    # and the CLI-style lines are derived from these.
    basis = [
        (e.id, e.version, e.manifest_hash, e.sha256, e.action, e.grants, e.requires)
        for e in extensions
    ]
    digest = hashlib.sha256(msgspec.json.encode(basis)).hexdigest()
    return InstallReview(
        ref=ref,
        extensions=extensions,
        notes=tuple(plan.notes),
        needs_confirmation=plan.needs_confirmation,
        review_hash=digest,
    )


class InstallCommands:
    """Answer the detail, marketplace and install commands of one workspace.

    Args:
        workspace: the workspace root (relative paths in refs and the index are under it).
        config: returns the configuration in force.
        manager: returns the running extension manager.
        db: returns the registry (None: it could not be opened; installs are refused).
        emit: publishes events on the bus.
    """

    def __init__(
        self,
        workspace: Path,
        config: Callable[[], SymphonyConfig],
        manager: Callable[[], ExtensionManager],
        db: Callable[[], ExtensionsDB | None],
        emit: Callable[[Event], None],
    ) -> None:
        self.workspace = workspace
        self._config = config
        self._manager = manager
        self._db = db
        self._emit = emit
        self._lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}

    def handlers(self) -> dict[type[Command], Callable[[Any], Message]]:
        """The command handlers, by command type."""
        return {
            GetExtensionDetail: self.detail,
            SearchMarketplace: self.search,
            ReviewInstall: self.review,
            InstallExtension: self.install,
            CancelInstall: self.cancel,
        }

    # --- detail ----------------------------------------------------------------------------------

    def detail(self, cmd: GetExtensionDetail) -> ExtensionDetail:
        from engine.extensions.review import review_lines

        manager = self._manager()
        status = manager.status(cmd.id)
        stats = manager.metrics(cmd.id)
        metrics = ExtensionMetrics(
            calls=stats.calls,
            errors=stats.errors,
            p50_ms=stats.p50_ms,
            p95_ms=stats.p95_ms,
            p99_ms=stats.p99_ms,
        )
        if status.isolation != "process":
            note = "runs in Symphony's process"
        else:
            note = _sandbox_problem() or ""
        if status.type == "?":  # an invalid manifest: nothing more to tell
            return ExtensionDetail(
                status=status, metrics=metrics, sandboxed=False, sandbox_note=note
            )
        manifest = manager.manifest(cmd.id)
        info = manifest.extension
        return ExtensionDetail(
            status=status,
            metrics=metrics,
            sandboxed=status.isolation == "process" and not note,
            sandbox_note=note,
            review=tuple(line.strip() for line in review_lines(manifest, None)),
            requires=dict(info.requires),
            authors=tuple(info.authors),
            license=info.license,
        )

    # --- marketplace -----------------------------------------------------------------------------

    def _index(self) -> str:
        from engine.extensions.marketplace import index_location

        location = index_location(self._config().extensions.marketplace, self.workspace)
        if location is None:
            raise SymphonyError(
                "no marketplace index is configured: set extensions.marketplace to an index"
                " file or URL"
            )
        return location

    def _installer(self, index: str | None) -> Installer:
        from engine.extensions.installer import Installer
        from engine.extensions.service import extension_dirs

        db = self._db()
        if db is None:
            raise InstallError(
                "the extension registry could not be opened; nothing can be installed"
            )
        return Installer(extension_dirs(self.workspace, self._config()), db, index=index)

    def search(self, cmd: SearchMarketplace) -> MarketplaceListing:
        from engine.extensions.marketplace import load_index
        from engine.extensions.plan import find_installed
        from engine.extensions.service import extension_dirs

        location = self._index()
        index = load_index(location)
        installed = find_installed(extension_dirs(self.workspace, self._config()))
        entries = []
        for e in index.search(cmd.query):
            latest = e.latest()
            have = installed.get(e.id)
            entries.append(
                MarketplaceEntry(
                    id=e.id,
                    name=e.name,
                    type=e.type,
                    description=e.description,
                    latest=latest.version,
                    versions=tuple(v.version for v in sorted(e.versions, key=lambda v: v.semver)),
                    installed=str(have.version) if have is not None else None,
                    permissions={k: v for k, v in latest.permissions.grants().items() if v},
                )
            )
        return MarketplaceListing(index=location, entries=tuple(entries))

    # --- review and install ----------------------------------------------------------------------

    def _target(self, ref: str) -> str:
        """``ref`` with a relative folder or archive path made absolute under the workspace
        (an ``ID[@VERSION]`` as it is)."""
        from engine.extensions.archive import is_archive

        if "/" in ref or ref.startswith((".", "~")) or is_archive(Path(ref)):
            path = Path(ref).expanduser()
            return str(path if path.is_absolute() else self.workspace / path)
        return ref

    def _index_or_none(self) -> str | None:
        from engine.extensions.marketplace import index_location

        return index_location(self._config().extensions.marketplace, self.workspace)

    def review(self, cmd: ReviewInstall) -> InstallReview:
        with self._installer(self._index_or_none()) as installer:
            return review_of(cmd.ref, installer.plan_install([self._target(cmd.ref)]))

    def cancel(self, cmd: CancelInstall) -> Ack:
        with self._lock:
            flag = self._cancels.get(cmd.operation)
        if flag is None:
            return Ack(detail=f"no install {cmd.operation!r} is running")
        flag.set()
        return Ack(detail="cancelling")

    def install(self, cmd: InstallExtension) -> InstallDone:
        flag = threading.Event()
        with self._lock:
            if cmd.operation:
                self._cancels[cmd.operation] = flag
        try:
            done = self._install(cmd, flag)
        except SymphonyError as e:
            self._progress(cmd, None, "install failed", done=True, error=str(e))
            raise
        finally:
            with self._lock:
                self._cancels.pop(cmd.operation, None)
        self._progress(cmd, 1.0, "installed", done=True)
        return done

    def _progress(
        self,
        cmd: InstallExtension,
        fraction: float | None,
        message: str,
        *,
        done: bool = False,
        error: str = "",
    ) -> None:
        self._emit(
            InstallProgress(
                operation=cmd.operation,
                ref=cmd.ref,
                fraction=fraction,
                message=message,
                done=done,
                error=error,
            )
        )

    def _install(self, cmd: InstallExtension, cancel: threading.Event) -> InstallDone:
        def checkpoint(fraction: float, message: str) -> None:
            if cancel.is_set():
                raise Cancelled(f"install of {cmd.ref} cancelled; nothing installed")
            self._progress(cmd, fraction, message)

        checkpoint(0.0, f"staging {cmd.ref}")
        with self._installer(self._index_or_none()) as installer:
            plan = installer.plan_install([self._target(cmd.ref)])
            review = review_of(cmd.ref, plan)
            if review.review_hash != cmd.review_hash:
                raise InstallError(
                    f"{cmd.ref}: what would be installed differs from the review you accepted"
                    " (the index or the archive changed); review it again. Nothing installed."
                )
            if not plan.candidates:
                return InstallDone(ref=cmd.ref, installed=(), notes=tuple(plan.notes))
            checkpoint(
                0.5, "installing " + ", ".join(f"{c.id} {c.version}" for c in plan.candidates)
            )
            installer.commit(plan)
            folders = [installer.user_dir / c.id for c in plan.candidates]
        self._progress(cmd, 0.8, "loading")
        return InstallDone(
            ref=cmd.ref, installed=tuple(self._adopt(folders)), notes=tuple(plan.notes)
        )

    def _adopt(self, folders: list[Path]) -> Iterator[ExtensionStatus]:
        from engine.extensions.discovery import discover

        manager = self._manager()
        # Dependencies first: the plan lists the named extensions before what they require.
        for found in reversed(discover(folders, builtin=False, packages=False)):
            if found.manifest is None:
                raise ExtensionError(f"{found.path}: {found.error}")
            yield manager.adopt(found)
