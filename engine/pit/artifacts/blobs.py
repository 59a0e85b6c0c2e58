"""Hot blob files of the artifact store: streaming temp writes, hashing and atomic placement.

A put streams its bytes into a temp file under ``<root>/tmp/`` in 1 MiB chunks while hashing
them, fsyncs it, and only then renames it to ``blobs/ab/cd/<hash>`` (same filesystem, so the
rename is atomic) and fsyncs the shard folder. A crash at any point leaves either no blob or a
complete one, plus at most a temp file that ``gc`` reclaims.

Every temp file is held under an exclusive ``flock`` by its writer for as long as it is being
written; ``gc`` deletes only temp files whose lock it can take, so it never removes a file a live
put (in this or any other process) is writing. A dead writer's lock vanishes with its process.

This module knows files, not metadata: it must not touch the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from engine.pit.artifacts import layout
from engine.types.errors import ArtifactError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

CHUNK = 1 << 20
TEMP_PREFIX = "put-"
TEMP_SUFFIX = ".tmp"


@dataclass
class TempBlob:
    """A fully written, hashed temp file waiting to be placed.

    Attributes:
        path: the temp file under ``tmp/``.
        fd: its open descriptor, which holds the writer's ``flock`` until :meth:`release`.
        digest: sha256 hex of the content.
        size: bytes written.
        head: the first bytes of the content (for media-type sniffing and text indexing).
    """

    path: Path
    fd: int
    digest: str
    size: int
    head: bytes

    def release(self) -> None:
        """Close the descriptor (dropping the lock) and delete the temp file if still there."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _locked_temp(tmp: Path) -> tuple[int, Path]:
    """Create a temp file in ``tmp`` and take its exclusive lock.

    ``gc`` may lock and delete a brand-new file in the instant between its creation and our
    ``flock``; then the path no longer names our inode, and we start again with a fresh file.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    while True:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=tmp)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = Path(name)
        try:
            same = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, path
        os.close(fd)


def write_temp(
    root: Path, chunks: Iterable[bytes], *, head_bytes: int, sync: bool = True
) -> TempBlob:
    """Stream ``chunks`` into a locked temp file while hashing them.

    Args:
        root: the store root.
        chunks: the content, in pieces of any size.
        head_bytes: how many leading bytes to keep in memory for sniffing and indexing.
        sync: fsync the file (``put_many`` syncs once for the whole batch instead).

    Returns:
        The temp blob; the caller places it with :func:`place` or calls ``release``.

    Raises:
        UsageError: reading ``chunks`` failed (an unreadable file or stream).
        ArtifactError: the temp file could not be written.
    """
    try:
        fd, path = _locked_temp(layout.tmp_dir(root))
    except OSError as e:
        raise ArtifactError(f"{root}: cannot create a temp file for a put: {e}") from e
    hasher = hashlib.sha256()
    size = 0
    head = bytearray()
    source = iter(chunks)
    try:
        while True:
            try:
                chunk = next(source)
            except StopIteration:
                break
            except OSError as e:
                raise UsageError(f"cannot read the content to store: {e.strerror or e}") from e
            if not chunk:
                continue
            view = memoryview(chunk)
            hasher.update(view)
            if len(head) < head_bytes:
                head += view[: head_bytes - len(head)]
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as e:
                raise ArtifactError(f"{path}: cannot write the temp file of a put: {e}") from e
            size += len(chunk)
        if sync:
            try:
                os.fsync(fd)
            except OSError as e:
                raise ArtifactError(f"{path}: cannot sync the temp file of a put: {e}") from e
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return TempBlob(path=path, fd=fd, digest=hasher.hexdigest(), size=size, head=bytes(head))


def place(root: Path, blob: TempBlob, *, sync: bool = True) -> bool:
    """Move a temp blob to its hot path unless an identical blob is already there.

    Call this while holding the database write lock, so ``gc`` never prunes the shard folder or
    removes the blob between this rename and the row that references it.

    Returns:
        True if the blob was placed, False if it already existed (the temp file is dropped).
    """
    dest = layout.hot_path(root, blob.digest)
    try:
        if dest.exists():
            blob.release()
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob.path.replace(dest)
        if sync:
            fsync_dir(dest.parent)
    except OSError as e:
        blob.release()
        raise ArtifactError(f"{dest}: cannot place the blob: {e}") from e
    blob.release()
    return True


def read_chunks(fileobj: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """Yield the content of ``fileobj`` in chunks of at most ``size`` bytes."""
    while chunk := fileobj.read(size):
        yield chunk


def hash_stream(fileobj: BinaryIO) -> tuple[str, int]:
    """sha256 hex and size of everything left in ``fileobj``, read in chunks."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in read_chunks(fileobj):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def temp_is_live(path: Path) -> bool:
    """Whether a writer still holds the lock of a temp file (so it must not be deleted)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove_dead_temp(path: Path) -> int | None:
    """Delete a temp file unless a writer holds it; returns its size, or None if kept."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        size = os.fstat(fd).st_size
        # Unlink while holding the lock: a writer that races us sees its inode gone and retries.
        path.unlink()
        return size
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it where the OS tells (Linux ``/proc``)."""
    try:
        with Path("/proc/self/status").open(encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # (briefly process-wide; only where /proc says nothing)
    os.umask(mask)
    return mask


def export(src: BinaryIO, dest: Path, digest: str) -> int:
    """Copy ``src`` to ``dest`` atomically, checking that it hashes to ``digest``.

    A temp file next to ``dest`` is written, fsynced and renamed over it, so ``dest`` holds
    either its old content or all of the new, never a mix. An existing ``dest`` keeps its
    permission bits; a new one gets ``0o666`` less the umask, as ``open`` would give it.

    Returns:
        The number of bytes written.

    Raises:
        UsageError: ``dest``'s folder cannot be written.
        ArtifactError: reading failed or the content does not hash to ``digest`` (``dest`` is
            untouched).
    """
    try:
        mode = stat.S_IMODE(dest.stat().st_mode)  # keep an existing file's mode
    except OSError:
        mode = 0o666 & ~_umask()  # what open() would give a new file
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise UsageError(f"{dest}: cannot write there: {e.strerror or e}") from e
    temp = Path(name)
    try:
        os.fchmod(fd, mode)
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for chunk in read_chunks(src):
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        if hasher.hexdigest() != digest:
            raise ArtifactError(f"artifact {digest[:12]} is corrupt (run verify); not exported")
        temp.replace(dest)
        fsync_dir(dest.parent)
    except OSError as e:
        raise ArtifactError(f"{dest}: export failed: {e}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return size
