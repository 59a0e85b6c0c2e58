"""Atomic file replacement: a reader sees the old content or the new, never a mix.

The data goes to a temporary file in the same folder, is flushed to disk, takes the mode of the
file it replaces, and is renamed over it; the folder is then synced so the rename itself
survives a crash. A failure leaves the original untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["NEW_FILE_MODE", "write_atomic"]

NEW_FILE_MODE = 0o644


def write_atomic(path: Path, data: bytes, *, make_dirs: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its permission bits.

    A symlink is followed: its target is replaced and the link kept.

    Raises:
        OSError: the folder is missing (and ``make_dirs`` is false) or not writable.
    """
    target = Path(os.path.realpath(path))
    if make_dirs:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    written = Path(name)
    tmp: Path | None = written
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        written.chmod(mode)
        written.replace(target)
        tmp = None
        with contextlib.suppress(OSError):  # not every filesystem can sync a folder
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
