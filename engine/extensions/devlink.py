"""Development links (``carets dev``): an extension folder linked into the user's extensions
folder and pinned in the registry, so Symphony loads the author's working copy.

The link is ``<data dir>/extensions/<id>`` → the development folder, made atomically through
an installer :class:`~engine.extensions.staging.Transaction`; discovery follows it and the
registry row names the development folder itself. :func:`repin` accepts the manifest as it is
after an edit; :func:`unlink` removes the link and the row, never the folder.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from engine.extensions.manifest import MANIFEST_NAME, load_manifest
from engine.extensions.plan import find_installed
from engine.extensions.staging import Transaction
from engine.extensions.store import RegistryRow
from engine.types.errors import InstallError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from engine.extensions.manifest import Manifest
    from engine.extensions.store import ExtensionsDB

__all__ = ["link", "repin", "unlink"]


def _row(manifest: Manifest, digest: str, folder: Path, enabled: bool) -> RegistryRow:
    return RegistryRow(
        id=manifest.id,
        source="folder",
        path=str(folder.resolve()),
        version=manifest.extension.version,
        manifest_hash=digest,
        enabled=enabled,
        pinned_at=time.time(),
    )


def link(folder: Path, dirs: list[Path], db: ExtensionsDB) -> Manifest:
    """Link ``folder`` into the user's extensions folder (``dirs[0]``) and pin it, enabled.

    Linking a folder that is already linked only re-pins it.

    Raises:
        ManifestError: the folder's manifest is invalid.
        InstallError: another extension (an installed copy, a built-in) has its id.
    """
    manifest, digest = load_manifest(folder / MANIFEST_NAME)
    user_dir = dirs[0]
    with Transaction(user_dir, db) as txn:
        have = find_installed(dirs).get(manifest.id)
        dest = user_dir / manifest.id
        if have is not None and have.linked and have.path == folder.resolve():
            db.apply([_row(manifest, digest, folder, True)])
            return manifest
        if have is not None:
            fix = (
                f"; remove it first (`symphony ext remove {manifest.id}`)"
                if have.replaceable
                else ""
            )
            raise InstallError(f"{manifest.id} is already installed ({have.where()}){fix}")
        if dest.exists() or dest.is_symlink():
            raise InstallError(f"{dest} already exists; move it away first")
        staged = txn.new_folder("link") / manifest.id
        staged.symlink_to(folder.resolve(), target_is_directory=True)
        txn.commit([(staged, dest, None)], [_row(manifest, digest, folder, True)])
    return manifest


def repin(folder: Path, db: ExtensionsDB) -> Manifest:
    """Accept the linked folder's manifest as it is now (keeping the enabled state).

    Raises:
        ManifestError: the manifest is invalid (the old pin stays).
    """
    manifest, digest = load_manifest(folder / MANIFEST_NAME)
    known = db.registry().get(manifest.id)
    db.apply([_row(manifest, digest, folder, known.enabled if known else True)])
    return manifest


def unlink(folder: Path, dirs: list[Path], db: ExtensionsDB) -> str:
    """Remove the link to ``folder`` and its registry row; the folder is left as it is.

    Returns:
        The extension's id.

    Raises:
        UsageError: ``folder`` is not linked.
    """
    resolved = folder.resolve()
    with Transaction(dirs[0], db) as txn:
        for ext_id, have in find_installed(dirs).items():
            if have.linked and have.entry is not None and have.path == resolved:
                txn.commit([(None, have.entry, have.entry)], [], [ext_id])
                return ext_id
    raise UsageError(f"{folder} is not linked for development (nothing to unlink)")
