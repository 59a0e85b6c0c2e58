"""Byte storage of the four tiers: read, copy (with verification), measure and remove one blob.

Hot is the plain file under ``blobs/``, warm a zstd file under ``warm/``, cold a copy under any
fsspec URL (a local folder, ``file://``, ``memory://``, ``s3://`` with s3fs…); see
:mod:`engine.pit.artifacts.layout`. Every read streams the *original* content whatever the tier,
and every copy is written atomically, read back and re-hashed before it is trusted.

This module must not touch the metadata database nor decide what moves where (that is
:mod:`engine.pit.stale.moves` and :mod:`engine.pit.stale.policy`), and must never read a whole
blob into memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import zstandard

from engine.pit.artifacts import layout
from engine.pit.artifacts.models import Tier
from engine.types.errors import ArtifactError

if TYPE_CHECKING:
    from collections.abc import Iterator

CHUNK = 1 << 20  # bytes per read/write while streaming
ZSTD_LEVEL = 3
_LOCAL = (Tier.HOT, Tier.WARM)


class TierStorage:
    """The bytes of every artifact, in whichever tier they are.

    Args:
        root: the store root (the folder holding ``pit.db``, ``blobs/``, ``warm/``, ``tmp/``).
        cold_url: fsspec URL (or local folder) of the cold tier; ``None`` when there is none.
    """

    def __init__(self, root: Path, cold_url: str | None) -> None:
        self.root = root
        self.cold_url = cold_url

    # -- reading -------------------------------------------------------------------------------

    def open(self, digest: str, tier: Tier) -> BinaryIO:
        """Stream the original content of ``digest`` from ``tier``.

        Raises:
            ArtifactError: the tier holds no copy, or it cannot be opened.
        """
        if tier is Tier.HOT:
            return cast("BinaryIO", self._open_local(layout.hot_path(self.root, digest)))
        if tier is Tier.WARM:
            fh = self._open_local(layout.warm_path(self.root, digest))
            return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True)
        if tier is Tier.COLD:
            fs, path = self._cold(digest)
            try:
                return cast("BinaryIO", fs.open(path, "rb"))
            except FileNotFoundError as e:
                raise ArtifactError(f"{digest}: no cold copy at {self._cold_name(digest)}") from e
            except Exception as e:
                raise ArtifactError(f"{digest}: cannot open the cold copy: {e}") from e
        raise ArtifactError(f"{digest}: the artifact is deleted; its bytes are gone")

    def exists(self, digest: str, tier: Tier) -> bool:
        """Whether ``tier`` holds a copy of ``digest`` (not checked against its hash).

        Without a ``cold_url`` there is no cold tier, so no cold copy.
        """
        if tier in _LOCAL:
            return self._local_path(digest, tier).is_file()
        if tier is Tier.COLD and self.cold_url is not None:
            fs, path = self._cold(digest)
            with _wrapped(f"{digest}: cannot look up the cold copy"):
                return bool(fs.exists(path))
        return False

    def stored_size(self, digest: str, tier: Tier) -> int:
        """Bytes the copy of ``digest`` takes in ``tier`` (compressed size when warm)."""
        if tier in _LOCAL:
            path = self._local_path(digest, tier)
            try:
                return path.stat().st_size
            except OSError as e:
                raise ArtifactError(f"{digest}: no {tier} copy at {path}: {e}") from e
        if tier is Tier.COLD:
            fs, url = self._cold(digest)
            with _wrapped(f"{digest}: no cold copy at {self._cold_name(digest)}"):
                return int(fs.size(url))
        return 0

    def sha256(self, digest: str, tier: Tier) -> str:
        """Re-hash the content stored in ``tier`` by streaming it (hex digest)."""
        hasher = hashlib.sha256()
        with self.open(digest, tier) as reader, _wrapped(f"{digest}: cannot read the {tier} copy"):
            while chunk := reader.read(CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()

    def verify(self, digest: str, tier: Tier) -> bool:
        """True when ``tier`` holds a readable copy whose sha256 is ``digest``."""
        if tier is Tier.DELETED or not self.exists(digest, tier):
            return False
        try:
            return self.sha256(digest, tier) == digest
        except ArtifactError:
            return False  # unreadable or truncated (e.g. a broken zstd frame) is not a good copy

    # -- writing -------------------------------------------------------------------------------

    def copy(self, digest: str, src: Tier, dst: Tier) -> int:
        """Write the ``dst`` copy of ``digest`` from a streaming read of ``src``, then verify it.

        The new copy appears atomically under its final name (temp file, fsync, rename) and is
        then read back and re-hashed; a copy that does not hash to ``digest`` is removed.

        Returns:
            The stored size in bytes of the new copy.

        Raises:
            ArtifactError: bad tiers, unreadable source, write failure or hash mismatch.
        """
        if src is Tier.DELETED or dst is Tier.DELETED or src is dst:
            raise ArtifactError(f"{digest}: cannot copy from {src} to {dst}")
        with self.open(digest, src) as reader:
            if dst in _LOCAL:
                self._write_local(digest, reader, dst)
            else:
                self._write_cold(digest, reader)
        self._written(digest, dst)
        actual = self._sha256_or_none(digest, dst)
        if actual != digest:
            self.remove(digest, dst)
            found = "unreadable" if actual is None else f"sha256 {actual}"
            raise ArtifactError(
                f"{digest}: the new {dst} copy does not verify ({found}); it was removed"
            )
        return self.stored_size(digest, dst)

    def remove(self, digest: str, tier: Tier) -> None:
        """Remove the copy of ``digest`` in ``tier``; nothing happens when there is none.

        Without a ``cold_url`` there is no cold copy to remove.
        """
        if tier in _LOCAL:
            path = self._local_path(digest, tier)
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                raise ArtifactError(f"{digest}: cannot remove {path}: {e}") from e
        elif tier is Tier.COLD and self.cold_url is not None:
            fs, url = self._cold(digest)
            with _wrapped(f"{digest}: cannot remove the cold copy"):
                if fs.exists(url):
                    fs.rm_file(url)

    def remove_partial(self, digest: str, tier: Tier) -> None:
        """Remove the copy in ``tier`` and, for cold, temp files an interrupted copy left."""
        self.remove(digest, tier)
        if tier is Tier.COLD and self.cold_url is not None:
            fs, path = self._cold(digest)
            with _wrapped(f"{digest}: cannot remove partial cold copies"):
                for leftover in fs.glob(_cold_tmp_name(path, "*")):
                    fs.rm_file(leftover)

    def _written(self, digest: str, tier: Tier) -> None:
        """Hook between writing a copy and verifying it (subclasses in tests corrupt it here)."""

    # -- helpers -------------------------------------------------------------------------------

    def _local_path(self, digest: str, tier: Tier) -> Path:
        if tier is Tier.HOT:
            return layout.hot_path(self.root, digest)
        return layout.warm_path(self.root, digest)

    @staticmethod
    def _open_local(path: Path) -> IO[bytes]:
        try:
            return path.open("rb")
        except FileNotFoundError as e:
            raise ArtifactError(f"no copy at {path}") from e
        except OSError as e:
            raise ArtifactError(f"cannot open {path}: {e}") from e

    def _sha256_or_none(self, digest: str, tier: Tier) -> str | None:
        try:
            return self.sha256(digest, tier)
        except ArtifactError:
            return None

    def _write_local(self, digest: str, reader: BinaryIO, tier: Tier) -> None:
        tmp = layout.tmp_dir(self.root)
        _atomic_write(reader, self._local_path(digest, tier), tmp, compress=tier is Tier.WARM)

    def _write_cold(self, digest: str, reader: BinaryIO) -> None:
        fs, path = self._cold(digest)
        if _is_local_fs(fs):
            # A local folder (maybe another disk): temp file next to the target, so the rename
            # stays on one filesystem and is atomic.
            target = Path(path)
            _atomic_write(reader, target, target.parent, compress=False)
            return
        tmp = _cold_tmp_name(path, uuid.uuid4().hex)
        with _wrapped(f"{digest}: cannot write the cold copy to {self._cold_name(digest)}"):
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            try:
                with fs.open(tmp, "wb") as out:
                    shutil.copyfileobj(reader, out, CHUNK)
                fs.mv(tmp, path)
            except BaseException:
                if fs.exists(tmp):
                    fs.rm_file(tmp)
                raise

    def _cold(self, digest: str) -> tuple[Any, str]:
        """The fsspec filesystem and path of the cold copy of ``digest``."""
        if self.cold_url is None:
            raise ArtifactError(
                "no cold tier: set artifacts.cold_url to a folder or fsspec URL (s3://…)"
            )
        import fsspec.core  # type: ignore[import-untyped]  # lazy: only cold reads need it

        url = layout.cold_url(self.cold_url, digest)
        try:
            fs, path = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as e:
            # fsspec says "Protocol not known: x" or that the backend package is missing.
            raise ArtifactError(f"cold_url {self.cold_url!r} is not usable: {e}") from e
        return fs, str(path)

    def _cold_name(self, digest: str) -> str:
        return layout.cold_url(self.cold_url or "", digest)


def _cold_tmp_name(path: str, token: str) -> str:
    """Temp name of a copy in progress, next to ``path`` (also used for local temp files)."""
    head, sep, name = path.rpartition("/")
    return f"{head}{sep}.{name}.tmp-{token}"


def _is_local_fs(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol


def _atomic_write(reader: BinaryIO, target: Path, tmp_dir: Path, *, compress: bool) -> None:
    """Stream ``reader`` into ``target``: temp file in ``tmp_dir``, fsync, rename, fsync dir."""
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=_cold_tmp_name(target.name, ""))
    except OSError as e:
        raise ArtifactError(f"cannot create a temp file for {target}: {e}") from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if compress:
                cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
                cctx.copy_stream(reader, out, read_size=CHUNK)
            else:
                shutil.copyfileobj(reader, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(target)
        _fsync_dir(target.parent)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError | zstandard.ZstdError):
            raise ArtifactError(f"cannot write {target}: {e}") from e
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _wrapped(message: str) -> Iterator[None]:
    """Turn foreign errors (OSError, backend-specific ones) into ArtifactError."""
    try:
        yield
    except ArtifactError:
        raise
    except Exception as e:
        raise ArtifactError(f"{message}: {e}") from e
