"""Publishing an extension archive to a marketplace index (``carets publish``).

The archive is checked like the installer checks it (safe extraction, valid manifest), then
copied next to the index (a file write, or an HTTP ``PUT`` beside an http(s) index), and the
index gets an entry for that version — added, or replacing the same version's entry — built
from the manifest: the archive's SHA-256, the Symphony specifier, ``requires`` and the
permissions. The index is written last and whole (atomically for a file), so a reader sees the
old index or the new one; a malformed existing index is refused and left as it is.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.extensions.archive import MAX_TOTAL_BYTES, extract, sha256_file
from engine.extensions.manifest import MANIFEST_NAME, load_manifest
from engine.extensions.marketplace import (
    FORMAT,
    MAX_INDEX_BYTES,
    Index,
    IndexEntry,
    IndexVersion,
    parse_index,
    render_index,
)
from engine.extensions.transfer import is_url, join, local_path, put_bytes, read_bytes
from engine.types.errors import TransferError

__all__ = ["Published", "publish"]


@dataclass(frozen=True, slots=True)
class Published:
    """What :func:`publish` did."""

    id: str
    version: str
    sha256: str
    archive_location: str
    replaced: bool  # the index already listed this version


def _read_index(location: str, timeout: float) -> Index:
    try:
        data = read_bytes(location, max_bytes=MAX_INDEX_BYTES, timeout=timeout)
    except TransferError as e:
        if e.missing:
            return Index(format=FORMAT, extensions=[])
        raise
    return parse_index(data, location)


def publish(
    archive: Path, index_location: str, *, base_url: str | None = None, timeout: float = 30.0
) -> Published:
    """Add (or replace) the archive's version in the index at ``index_location``.

    Args:
        archive: the ``.tar.gz`` made by ``carets pack``.
        index_location: the index file (created when missing) or its http(s) URL.
        base_url: where clients download archives from, when not next to the index; the
            entry's ``url`` is then ``base_url/<archive name>`` instead of the bare name.

    Raises:
        ArchiveError, ManifestError: the archive is unsafe or its manifest invalid.
        MarketplaceError: the existing index is malformed (it is left unchanged).
        TransferError: reading or writing failed.
    """
    with tempfile.TemporaryDirectory(prefix="carets-publish-") as tmp:
        folder = extract(archive, Path(tmp))
        manifest, _digest = load_manifest(folder / MANIFEST_NAME)
    if archive.stat().st_size > MAX_TOTAL_BYTES:
        raise TransferError(f"{archive}: larger than {MAX_TOTAL_BYTES} bytes")
    sha = sha256_file(archive)
    index = _read_index(index_location, timeout)
    info = manifest.extension
    url = f"{base_url.rstrip('/')}/{archive.name}" if base_url else archive.name
    version = IndexVersion(
        version=info.version,
        url=url,
        sha256=sha,
        symphony=info.symphony,
        requires=dict(info.requires),
        permissions=manifest.permissions,
    )
    old = index.get(info.id)
    kept = [v for v in (old.versions if old else []) if v.semver != version.semver]
    entry = IndexEntry(
        id=info.id,
        name=info.name,
        type=info.type,
        description=info.description,
        versions=sorted([*kept, version], key=lambda v: v.semver),
    )
    others = [e for e in index.extensions if e.id != info.id]
    updated = Index(format=FORMAT, extensions=sorted([*others, entry], key=lambda e: e.id))
    target = join(index_location, archive.name)
    if is_url(target) or local_path(target).resolve() != archive.resolve():
        put_bytes(target, archive.read_bytes(), timeout=timeout)
    put_bytes(index_location, render_index(updated), timeout=timeout)
    replaced = old is not None and len(kept) < len(old.versions)
    return Published(info.id, info.version, sha, target, replaced)
