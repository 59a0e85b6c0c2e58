"""The installer: install, update and remove extensions in the user's extensions folder.

``Installer`` turns what the user asked for (a folder, an ``.tar.gz`` archive, or an id from
the marketplace index, ``ID[@VERSION]``) into a :class:`Plan`: every extension staged and
checked (manifest, Symphony version, archive SHA-256 against the index, the id not provided by
a built-in or another source), with the dependencies its ``requires`` name resolved by semver
and staged from the index. The caller shows the plan's permission review, asks, and calls
:meth:`Installer.commit`, which puts every folder in place and pins and enables it in the
registry — all or nothing (see :mod:`engine.extensions.staging`). Nothing outside the staging
folder changes before ``commit``.

Installed extensions live in ``<data dir>/extensions/<id>/``; discovery finds them there and
the registry row written here makes the manager load them with no further step.
"""

from __future__ import annotations

import hashlib
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.extensions.archive import copy_tree, extract, is_archive, sha256_file
from engine.extensions.manifest import ID_RE, MANIFEST_NAME, check_symphony_version, load_manifest
from engine.extensions.plan import Candidate, Plan, Removal, find_installed
from engine.extensions.resolve import Node, Present, resolve
from engine.extensions.semver import Range, Version, VersionError, highest
from engine.extensions.staging import Transaction
from engine.extensions.store import RegistryRow
from engine.types.errors import ExtensionError, InstallError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.extensions.manifest import Manifest
    from engine.extensions.marketplace import Index, IndexEntry, IndexVersion
    from engine.extensions.plan import Installed
    from engine.extensions.store import ExtensionsDB

__all__ = ["Installer"]

_TARGET_ID = re.compile(r"^(?P<id>[^@/]+)(?:@(?P<version>.+))?$")


class Installer:
    """Plan and commit changes to the user's extensions folder; a context manager holding the
    install lock and the staging folder.

    Args:
        dirs: the extension folders (``service.extension_dirs``): the user's first.
        db: the registry.
        index: the marketplace index's location (path or URL), or None.
        timeout: seconds for each network operation.
    """

    def __init__(
        self,
        dirs: list[Path],
        db: ExtensionsDB,
        *,
        index: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.user_dir = dirs[0]
        self.db = db
        self.index_location = index
        self.timeout = timeout
        self._dirs = dirs
        self._index: Index | None = None
        self._txn = Transaction(self.user_dir, db)
        self.installed: dict[str, Installed] = {}

    def __enter__(self) -> Installer:
        self._txn.__enter__()
        self.installed = find_installed(self._dirs)
        return self

    def __exit__(self, *exc: object) -> None:
        self._txn.__exit__(*exc)

    # --- the index -------------------------------------------------------------------------------

    def index(self) -> Index:
        """The marketplace index (read once).

        Raises:
            UsageError: none is configured.
            TransferError, MarketplaceError: it cannot be read, or is malformed.
        """
        if self._index is None:
            if not self.index_location:
                raise UsageError(
                    "no marketplace index is configured: pass --index PATH_OR_URL or set"
                    " extensions.marketplace"
                )
            from engine.extensions.marketplace import load_index

            self._index = load_index(self.index_location, timeout=self.timeout)
        return self._index

    def _runnable(self, ext_id: str) -> list[IndexVersion]:
        """The index's versions of ``ext_id`` this Symphony can run."""
        entry = self.index().get(ext_id)
        return [v for v in entry.versions if _runs_here(v.symphony)] if entry else []

    # --- install ---------------------------------------------------------------------------------

    def plan_install(self, targets: list[str]) -> Plan:
        """Stage ``targets`` (folders, archives, ``ID[@VERSION]``) and their dependencies.

        Raises:
            UsageError: a target is neither a folder, an archive nor an id the index lists.
            ManifestError, ArchiveError: a staged extension is invalid or unsafe.
            InstallError: a hash mismatch, a Symphony version it cannot run on, an id another
                source provides, or requirements that cannot be met.
            TransferError, MarketplaceError: the index or an archive cannot be read.
        """
        plan = Plan()
        explicit: dict[str, Candidate] = {}
        for target in targets:
            with self._staging(target):
                cand = self._stage_target(target, plan)
            if cand is None:
                continue
            if cand.id in explicit:
                raise UsageError(f"{cand.id} is named twice ({target})")
            explicit[cand.id] = cand
        self._add_dependencies(plan, explicit)
        return plan

    @contextmanager
    def _staging(self, what: str) -> Iterator[None]:
        """Turn a file-system failure while staging ``what`` into an InstallError."""
        try:
            yield
        except OSError as e:
            raise InstallError(
                f"cannot stage {what} in {self._txn.folder}: {e.strerror or e}; nothing installed"
            ) from e

    def _stage_target(self, target: str, plan: Plan) -> Candidate | None:
        # Like pip: a bare id is looked up in the index; a folder or archive is written as a
        # path (`./acme.lint`, `dist/x.tar.gz`), so a folder named like an id never shadows it.
        match = _TARGET_ID.match(target)
        if match is not None and re.match(ID_RE, match["id"]) and not is_archive(Path(target)):
            if self.index_location is None and Path(target).is_dir():
                raise UsageError(
                    f"{target}: an extension id, and no marketplace index is configured; to"
                    f" install the folder {target}, write ./{target}"
                )
            return self._stage_from_index(match["id"], match["version"], plan)
        path = Path(target).expanduser()
        if path.is_dir():
            folder = self._txn.new_folder("folder") / "ext"
            copy_tree(path, folder)
            return self._candidate(folder, f"folder {path.resolve()}")
        if not path.exists():
            looks_like_path = "/" in target or target.startswith((".", "~")) or is_archive(path)
            raise UsageError(
                f"{target}: no such folder or archive"
                if looks_like_path
                else f"{target}: not an extension id (ID[@VERSION]), a folder or an archive"
            )
        if not is_archive(path):
            raise UsageError(
                f"{target}: not an extension folder, an archive (.tar.gz) or an id (ID[@VERSION])"
            )
        folder = extract(path, self._txn.new_folder("archive"))
        return self._candidate(folder, f"archive {path.resolve()}", sha256_file(path))

    def _stage_from_index(self, ext_id: str, version: str | None, plan: Plan) -> Candidate | None:
        entry = self.index().get(ext_id)
        if entry is None:
            import difflib

            close = difflib.get_close_matches(ext_id, [e.id for e in self.index().extensions], 1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"{self.index_location} lists no extension {ext_id!r}{hint}")
        try:
            wanted = Range.parse(version or "*")
        except VersionError as e:
            raise UsageError(f"{ext_id}@{version}: {e}") from None
        pick = self._pick_explicit(entry, wanted)
        have = self.installed.get(ext_id)
        if have is not None and have.version == pick.semver and have.replaceable:
            plan.notes.append(f"{ext_id} {pick.version} is already installed")
            return None
        return self._download(entry, pick)

    def _pick_explicit(self, entry: IndexEntry, wanted: Range) -> IndexVersion:
        runnable = self._runnable(entry.id)
        # Prefer a version the installed extensions that require this one accept.
        others = [
            Range.parse(spec)
            for inst in self.installed.values()
            for dep, spec in inst.manifest.extension.requires.items()
            if dep == entry.id
        ]
        semvers = [v.semver for v in runnable]
        best = highest(semvers, wanted, *others) or highest(semvers, wanted)
        if best is None:
            listed = ", ".join(str(v) for v in sorted(v.semver for v in entry.versions))
            raise UsageError(
                f"{entry.id}: no version matches {wanted} and runs on this Symphony (the index"
                f" has {listed})"
            )
        return next(v for v in runnable if v.semver == best)

    def _download(
        self, entry: IndexEntry, pick: IndexVersion, *, explicit: bool = True
    ) -> Candidate:
        from engine.extensions.archive import MAX_TOTAL_BYTES
        from engine.extensions.transfer import join, read_bytes

        assert self.index_location is not None
        url = join(self.index_location, pick.url)
        data = read_bytes(url, max_bytes=MAX_TOTAL_BYTES, timeout=self.timeout)
        digest = hashlib.sha256(data).hexdigest()
        if digest != pick.sha256:
            raise InstallError(
                f"{entry.id} {pick.version}: the archive {url} has SHA-256 {digest}, but the"
                f" index says {pick.sha256}; refusing it (nothing installed)"
            )
        staging = self._txn.new_folder("download")
        archive = staging / "archive.tar.gz"
        archive.write_bytes(data)
        folder = extract(archive, staging / "x", name=url)
        cand = self._candidate(folder, f"index {self.index_location}", digest, enable=explicit)
        mismatch = [
            what
            for what, ok in (
                ("id", cand.id == entry.id),
                ("version", Version.parse(cand.version) == pick.semver),
                ("requires", dict(cand.manifest.extension.requires) == dict(pick.requires)),
            )
            if not ok
        ]
        if mismatch:
            raise InstallError(
                f"{url}: its manifest does not match the index entry of {entry.id} {pick.version}"
                f" ({', '.join(mismatch)} differ); refusing it"
            )
        return cand

    def _candidate(
        self, folder: Path, origin: str, sha256: str | None = None, *, enable: bool = True
    ) -> Candidate:
        manifest, digest = load_manifest(folder / MANIFEST_NAME)
        label = f"{manifest.id} {manifest.extension.version}"
        try:
            check_symphony_version(manifest.extension.symphony)
        except ExtensionError as e:
            raise InstallError(f"cannot install {label}: it {e}") from None
        have = self.installed.get(manifest.id)
        if have is not None and not have.replaceable:
            fix = (
                f"; stop developing it with `carets dev --unlink {have.path}` first"
                if have.linked
                else ""
            )
            raise InstallError(
                f"cannot install {label}: {manifest.id} is already installed ({have.where()}){fix}"
            )
        dest = self.user_dir / manifest.id
        replaces = have.entry if have is not None else None
        if replaces is None and (dest.exists() or dest.is_symlink()):
            if dest.is_symlink() or not dest.is_dir():
                raise InstallError(
                    f"cannot install {label}: {dest} already exists and is not an extension"
                    " folder; move it away first"
                )
            replaces = dest  # a broken extension's folder: the new version replaces it
        elif replaces is not None and replaces != dest and (dest.exists() or dest.is_symlink()):
            raise InstallError(f"cannot install {label}: {dest} already exists; move it away first")
        return Candidate(manifest, digest, folder, origin, sha256, have, replaces, enable)

    def _add_dependencies(self, plan: Plan, explicit: dict[str, Candidate]) -> None:
        def node(m: Manifest) -> Node:
            return Node(m.id, Version.parse(m.extension.version), m.extension.requires)

        present = {
            i: Present(node(x.manifest), x.replaceable, x.where())
            for i, x in self.installed.items()
        }
        available = self._runnable if self.index_location else None
        picks = resolve({i: node(c.manifest) for i, c in explicit.items()}, present, available)
        plan.candidates.extend(explicit.values())
        for dep, pick in sorted(picks.items()):
            entry = self.index().get(dep)
            assert entry is not None
            with self._staging(f"{dep} {pick.version}"):
                plan.candidates.append(self._download(entry, pick, explicit=False))

    # --- update ----------------------------------------------------------------------------------

    def plan_update(self, ids: list[str]) -> Plan:
        """Stage the newest index version of ``ids`` (default: every installed extension the
        installer manages) that the other installed extensions accept, and dependencies.

        Raises:
            UsageError: an id is not installed by the installer, or no index is configured.
        """
        for ext_id in ids:
            have = self.installed.get(ext_id)
            if have is None:
                raise UsageError(f"{ext_id} is not installed (see `symphony ext list`)")
            if not have.replaceable:
                raise UsageError(f"{ext_id} is {have.where()}; the installer does not update it")
        chosen = ids or sorted(i for i, x in self.installed.items() if x.replaceable)
        plan = Plan()
        explicit: dict[str, Candidate] = {}
        index = self.index()
        for ext_id in chosen:
            have = self.installed[ext_id]
            entry = index.get(ext_id)
            if entry is None:
                plan.notes.append(f"{ext_id} {have.version}: not in the index")
                continue
            others = [
                Range.parse(spec)
                for other in self.installed.values()
                for dep, spec in other.manifest.extension.requires.items()
                if dep == ext_id
            ]
            best = highest([v.semver for v in self._runnable(ext_id)], *others)
            if best is None or best <= have.version:
                plan.notes.append(f"{ext_id} {have.version} is up to date")
                continue
            pick = next(v for v in entry.versions if v.semver == best)
            with self._staging(f"{ext_id} {pick.version}"):
                explicit[ext_id] = self._download(entry, pick, explicit=False)
        self._add_dependencies(plan, explicit)
        return plan

    # --- commit ----------------------------------------------------------------------------------

    def commit(self, plan: Plan) -> None:
        """Put every candidate in place and pin it in the registry, all or nothing.

        Raises:
            InstallError: something failed; the folder and the registry are as before.
        """
        registry = self.db.registry()
        now = time.time()
        place: list[tuple[Path | None, Path, Path | None]] = []
        rows: list[RegistryRow] = []
        for c in plan.candidates:
            dest = self.user_dir / c.id
            place.append((c.folder, dest, c.replaces))
            known = registry.get(c.id)
            enabled = c.enable or known is None or known.enabled
            rows.append(
                RegistryRow(
                    id=c.id,
                    source="folder",
                    path=str(self.user_dir.resolve() / c.id),
                    version=c.version,
                    manifest_hash=c.digest,
                    enabled=enabled,
                    pinned_at=now,
                )
            )
        self._txn.commit(place, rows)

    # --- remove ----------------------------------------------------------------------------------

    def plan_remove(self, ext_id: str, *, force: bool = False) -> Removal:
        """Check that ``ext_id`` can be removed.

        Raises:
            UsageError: it is not installed, or not by the installer.
            InstallError: installed extensions require it (and not ``force``).
        """
        have = self.installed.get(ext_id)
        if have is None:
            row = self.db.registry().get(ext_id)
            if row is not None and row.source == "folder" and not Path(row.path).exists():
                return Removal(ext_id, None, [])  # its folder is gone: forget the row
            raise UsageError(f"{ext_id} is not installed (see `symphony ext list`)")
        if have.entry is None:
            raise UsageError(
                f"{ext_id} is {have.where()}, not in {self.user_dir}; the installer cannot"
                " remove it (`symphony ext disable` turns it off)"
            )
        dependents = sorted(
            f"{other.id} {other.version} requires {ext_id} {spec}"
            for other in self.installed.values()
            if (spec := other.manifest.extension.requires.get(ext_id)) is not None
        )
        if dependents and not force:
            raise InstallError(
                f"cannot remove {ext_id}: {'; '.join(dependents)} — remove those first, or pass"
                " --force"
            )
        return Removal(ext_id, have, dependents)

    def commit_remove(self, removal: Removal) -> None:
        """Move the extension's folder (or development link) away and forget it, all or
        nothing; a linked development folder itself is never touched."""
        entry = removal.installed.entry if removal.installed else None
        place: list[tuple[Path | None, Path, Path | None]] = (
            [(None, entry, entry)] if entry is not None else []
        )
        self._txn.commit(place, [], [removal.id])


def _runs_here(specifier: str) -> bool:
    try:
        check_symphony_version(specifier)
    except ExtensionError:
        return False
    return True
