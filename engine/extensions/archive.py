"""Extension archives: reproducible packing and safe extraction of ``.tar.gz`` files.

An archive holds exactly one top-level folder (named ``<id>-<version>`` by :func:`pack`, any
name when made by hand) with ``symphony-extension.toml`` in it. Packing is reproducible: the
same folder gives the same bytes (entries sorted, mtime 0, owner 0:0 without names, modes
``0644``/``0755``, gzip header without name or time), and caches and version-control folders
are left out (:data:`EXCLUDED_NAMES`, ``*.pyc``, a top-level ``dist/``).

Extraction trusts nothing in the archive: absolute names, ``..``, members outside the single
top folder, links leading out of it, hard links, device files and FIFOs are refused, and so
are archives over :data:`MAX_TOTAL_BYTES` (counted as the data is written, not as headers
claim) or :data:`MAX_MEMBERS` entries. Every refusal is an :class:`ArchiveError` naming the
archive and the member. This module never installs anything: it writes only into the folder
it is given.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from engine.extensions.manifest import MANIFEST_NAME, load_manifest
from engine.types.errors import ArchiveError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "ARCHIVE_SUFFIXES",
    "EXCLUDED_NAMES",
    "MAX_MEMBERS",
    "MAX_TOTAL_BYTES",
    "copy_tree",
    "excluded",
    "extract",
    "is_archive",
    "iter_files",
    "pack",
    "sha256_file",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
#: Folder and file names never packed or copied: caches and version control.
EXCLUDED_NAMES = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".venv",
        ".DS_Store",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 10_000
_CHUNK = 1024 * 1024


def is_archive(path: Path) -> bool:
    """Whether ``path`` names an extension archive (by its suffix)."""
    return path.name.endswith(ARCHIVE_SUFFIXES)


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def excluded(rel: str) -> bool:
    """Whether the folder-relative posix path ``rel`` is left out of archives and copies."""
    parts = rel.split("/")
    if parts[0] == "dist":  # where `carets pack` writes by default
        return True
    return any(p in EXCLUDED_NAMES for p in parts) or rel.endswith(EXCLUDED_SUFFIXES)


def iter_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every entry of an extension folder to pack or copy, as (posix relative path, path),
    sorted, folders before their contents; exclusions left out.

    Raises:
        ArchiveError: a symbolic link points outside the folder, or an entry is neither a
            file, a folder nor a link.
    """
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if excluded(rel):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = path.resolve()
                if not target.is_relative_to(root):
                    raise ArchiveError(f"{folder}: {rel}: a symbolic link pointing outside it")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ArchiveError(f"{folder}: {rel}: not a regular file, folder or link")
            yield rel, path
        # os.walk does not descend into links to folders; excluded folders are pruned here.
        dirnames[:] = [d for d in dirnames if not excluded((base / d).relative_to(root).as_posix())]


def _link_target(link: Path) -> str:
    """A link's target relative to its folder (an absolute one inside would not extract)."""
    return os.path.relpath(link.resolve(), link.parent.resolve())


def _tarinfo(arcname: str, path: Path) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(arcname)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = _link_target(path)
        info.mode = 0o777
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


def pack(folder: Path, out_dir: Path) -> Path:
    """Pack the extension in ``folder`` into ``out_dir/<id>-<version>.tar.gz``.

    Returns:
        The archive written (atomically: a reader never sees half an archive).

    Raises:
        ManifestError: the folder's manifest is missing or invalid.
        ArchiveError: the folder holds a link pointing out of it or a special file.
    """
    from engine.files.atomic import write_atomic

    manifest, _digest = load_manifest(folder / MANIFEST_NAME)
    top = f"{manifest.id}-{manifest.extension.version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(top, folder.resolve()))
        for rel, path in iter_files(folder):
            info = _tarinfo(f"{top}/{rel}", path)
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    packed = io.BytesIO()
    # No file name and mtime 0 in the gzip header: the same folder gives the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    target = out_dir / f"{top}.tar.gz"
    write_atomic(target, packed.getvalue())
    return target


def copy_tree(folder: Path, dest: Path) -> None:
    """Copy an extension folder to ``dest`` (which must not exist) as :func:`pack` would pack
    it: exclusions left out, links kept (they point inside), modes normalised."""
    import shutil

    dest.mkdir(parents=True)
    for rel, path in iter_files(folder):
        target = dest / rel
        if path.is_symlink():
            target.symlink_to(_link_target(path))
        elif path.is_dir():
            target.mkdir(mode=0o755)
        else:
            shutil.copyfile(path, target)
            target.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


# --- extraction ----------------------------------------------------------------------------------


def _member_name(archive: str, member: tarfile.TarInfo) -> str:
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{archive}: {name}: an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{archive}: {name}: a path with '..'")
    if not parts:
        raise ArchiveError(f"{archive}: {name!r}: an empty path")
    return "/".join(parts)


def _check_member(archive: str, member: tarfile.TarInfo, name: str, top: str) -> None:
    if name.split("/")[0] != top:
        raise ArchiveError(
            f"{archive}: {member.name}: outside the archive's single top-level folder {top!r}"
        )
    if member.issym():
        link = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
        if (
            link.startswith("/")
            or resolved == ".."
            or resolved.startswith("../")
            or (resolved.split("/")[0] != top)
        ):
            raise ArchiveError(
                f"{archive}: {member.name}: a symbolic link pointing outside the extension ({link})"
            )
    elif member.islnk():
        raise ArchiveError(f"{archive}: {member.name}: a hard link (not allowed)")
    elif not (member.isreg() or member.isdir()):
        raise ArchiveError(
            f"{archive}: {member.name}: a device file, FIFO or other special file (not allowed)"
        )


def _scan(archive: str, tar: tarfile.TarFile, max_members: int, max_bytes: int) -> str:
    """Check every member before anything is written; return the top-level folder's name."""
    top: str | None = None
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > max_members:
            raise ArchiveError(
                f"{archive}: {member.name}: more than {max_members} entries (refused as a"
                " possible archive bomb)"
            )
        name = _member_name(archive, member)
        if top is None:
            top = name.split("/")[0]
        _check_member(archive, member, name, top)
        if member.isdir() and name == top:
            continue
        if name == top:
            raise ArchiveError(f"{archive}: {member.name}: the top level must be a folder")
        total += member.size if member.isreg() else 0
        if total > max_bytes:
            raise ArchiveError(
                f"{archive}: {member.name}: the content exceeds {max_bytes} bytes (refused as a"
                " possible archive bomb)"
            )
    if top is None:
        raise ArchiveError(f"{archive}: the archive is empty")
    return top


def _inside(folder: Path, root: Path, dest: Path) -> bool:
    resolved = folder.resolve()
    return resolved.is_relative_to(root) or resolved == dest.resolve()


def extract(
    archive: Path,
    dest: Path,
    *,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
    name: str | None = None,
) -> Path:
    """Extract the extension archive into the empty folder ``dest`` after checking it.

    ``name`` is how errors name the archive (its URL when it was downloaded); default its path.

    Returns:
        The extracted extension folder (``dest/<top-level folder>``), which holds a manifest.

    Raises:
        ArchiveError: the archive is not a readable ``.tar.gz``, is unsafe or too large, or
            has no ``symphony-extension.toml`` in its top-level folder.
    """
    label = name or str(archive)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            top = _scan(label, tar, max_members, max_bytes)
            root = (dest / top).resolve()
            written = 0
            for member in tar.getmembers():
                target = dest / _member_name(label, member)
                # The names were checked lexically; links already written must not lead out.
                if not _inside(target.parent, root, dest):
                    raise ArchiveError(
                        f"{label}: {member.name}: leads outside the extension through a link"
                    )
                if member.isdir():
                    target.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                if member.issym():
                    target.symlink_to(member.linkname)
                    if not target.resolve().is_relative_to(root):
                        raise ArchiveError(
                            f"{label}: {member.name}: a symbolic link pointing outside the"
                            f" extension ({member.linkname})"
                        )
                    continue
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - regular files always have data
                    raise ArchiveError(f"{label}: {member.name}: no data")
                with source, target.open("xb") as f:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ArchiveError(
                                f"{label}: {member.name}: the content exceeds {max_bytes}"
                                " bytes (refused as a possible archive bomb)"
                            )
                        f.write(chunk)
                target.chmod(0o755 if member.mode & 0o111 else 0o644)
    except ArchiveError:
        raise
    except FileNotFoundError:
        raise ArchiveError(f"{label}: no such file") from None
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ArchiveError(f"{label}: not a readable .tar.gz archive ({e})") from e
    except FileExistsError as e:
        raise ArchiveError(f"{label}: {e.filename}: appears twice in the archive") from e
    except OSError as e:  # e.g. a file where the archive already made a folder
        raise ArchiveError(f"{label}: cannot extract {e.filename or ''}: {e.strerror}") from e
    folder = dest / top
    if not (folder / MANIFEST_NAME).is_file():
        raise ArchiveError(f"{label}: {top}/{MANIFEST_NAME}: missing (not an extension archive)")
    return folder
