"""Finding extensions: built-in ones, Python packages' entry points and extension folders.

Discovery reads manifests only; no extension code runs (entry-point packages are located on
disk, not imported). Sources, in order:

1. ``builtin`` — the folders of Symphony's own ``extensions`` package;
2. ``entry_point`` — packages named in the ``symphony.extensions`` entry-point group (the
   manifest sits in the named package's folder);
3. ``folder`` — the user's extensions folder (where the installer puts extensions), then each
   folder of ``extensions.dirs``: a folder holding a manifest is one extension, otherwise each
   of its sub-folders holding one is.

An unreadable or invalid manifest is still reported (with its error) so listings can show it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.extensions.manifest import MANIFEST_NAME, load_manifest
from engine.types.errors import ManifestError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.extensions.manifest import Manifest

__all__ = ["ENTRY_POINT_GROUP", "Found", "Source", "builtin_root", "discover"]

ENTRY_POINT_GROUP = "symphony.extensions"
Source = Literal["builtin", "entry_point", "folder"]


@dataclass(frozen=True, slots=True)
class Found:
    """One discovered extension folder.

    Attributes:
        source: where it came from.
        path: the folder holding ``symphony-extension.toml``.
        manifest: the validated manifest, or None when ``error`` says why not.
        digest: SHA-256 of the manifest file (None if unreadable).
        import_root: folder to put on ``sys.path`` to import its entry (None: already importable).
        trusted: False for folders named only by the workspace's own configuration: a cloned
            repository must not be able to run code just by being opened.
    """

    source: Source
    path: Path
    manifest: Manifest | None
    digest: str | None
    error: str | None
    import_root: Path | None
    trusted: bool = True


def builtin_root() -> Path:
    """The folder of Symphony's built-in extensions."""
    spec = importlib.util.find_spec("extensions")
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError("Symphony's built-in 'extensions' package is missing")
    return Path(next(iter(spec.submodule_search_locations)))


def _read(source: Source, folder: Path, import_root: Path | None, trusted: bool = True) -> Found:
    try:
        manifest, digest = load_manifest(folder / MANIFEST_NAME)
    except ManifestError as e:
        return Found(source, folder, None, None, e.message, import_root, trusted)
    return Found(source, folder, manifest, digest, None, import_root, trusted)


def _builtin() -> list[Found]:
    root = builtin_root()
    return [
        _read("builtin", sub, None)
        for sub in sorted(root.iterdir())
        if (sub / MANIFEST_NAME).is_file()
    ]


def _entry_points() -> list[Found]:
    found: list[Found] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        folder = _package_folder(ep)
        if folder is None:
            error = f"entry point {ep.name} = {ep.value!r}: no package {ep.module} installed"
            found.append(Found("entry_point", Path(ep.value), None, None, error, None))
            continue
        if not (folder / MANIFEST_NAME).is_file():
            found.append(
                Found(
                    "entry_point",
                    folder,
                    None,
                    None,
                    f"entry point {ep.name}: no {MANIFEST_NAME} in {folder}",
                    None,
                )
            )
            continue
        found.append(_read("entry_point", folder, None))
    return found


def _package_folder(ep: EntryPoint) -> Path | None:
    """The folder of the package an entry point names, found without importing anything
    (importing ``a.b`` to locate it would run ``a/__init__.py``)."""
    rel = ep.module.replace(".", "/")
    roots: list[Path] = []
    if ep.dist is not None:
        roots.append(Path(str(ep.dist.locate_file(""))))
    roots += [Path(p) for p in sys.path if p]
    for root in roots:
        if (root / rel / "__init__.py").is_file():
            return root / rel
        if (root / f"{rel}.py").is_file():
            return root
    return None


def _folders(dirs: Iterable[Path], untrusted: Iterable[Path] = ()) -> list[Found]:
    found: list[Found] = []
    seen: set[Path] = set()
    distrust = {p.resolve() for p in untrusted}
    for base in dirs:
        if not base.is_dir():
            continue
        candidates = (
            [base] if (base / MANIFEST_NAME).is_file() else sorted(p for p in base.iterdir())
        )
        for folder in candidates:
            resolved = folder.resolve()
            if resolved in seen or not (folder / MANIFEST_NAME).is_file():
                continue
            seen.add(resolved)
            trusted = base.resolve() not in distrust
            found.append(_read("folder", resolved, resolved, trusted))
    return found


def discover(
    dirs: Iterable[Path],
    *,
    builtin: bool = True,
    packages: bool = True,
    untrusted: Iterable[Path] = (),
) -> list[Found]:
    """Every extension visible from the built-ins, entry points and ``dirs``, in that order.

    Folders found under a member of ``untrusted`` (folders the workspace's own configuration
    names) are marked untrusted: the manager registers them disabled.
    """
    found: list[Found] = []
    if builtin:
        found += _builtin()
    if packages:
        found += _entry_points()
    found += _folders(dirs, untrusted)
    return found
