"""Crash recovery: unsaved editor buffers and the window layout, kept outside the workspace.

Each workspace has its own recovery area under the user's data folder
(``<data_dir>/recovery/<first 16 hex digits of sha256(workspace path)>``). Every unsaved buffer
is one JSON file there (named after a hash of its path) holding the text, when it was saved and
the SHA-256 of the file on disk the buffer started from, so the next start can say whether the
file changed since. ``layout.json`` holds the open tabs. Every write is atomic; a damaged or
foreign file in the area is skipped and reported, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.files.atomic import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "LAYOUT_FILE",
    "RecoveredBuffer",
    "RecoveryEntries",
    "RecoveryStore",
    "file_sha256",
    "recovery_dir",
]

log = logging.getLogger(__name__)

#: Version of the files written here; other versions are skipped.
FORMAT_VERSION = 1
LAYOUT_FILE = "layout.json"
BUFFER_SUFFIX = ".buffer.json"


def recovery_dir(data_dir: Path, workspace: Path) -> Path:
    """The recovery area of ``workspace`` under the user data folder ``data_dir``."""
    key = hashlib.sha256(str(workspace).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return data_dir / "recovery" / key


def file_sha256(path: Path) -> str | None:
    """SHA-256 of the file's bytes, or None if it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class RecoveredBuffer:
    """An unsaved buffer found in the recovery area."""

    path: str
    text: str
    saved_at: float
    base_sha256: str | None
    disk_changed: bool


class RecoveryEntries(list[RecoveredBuffer]):
    """The buffers found, plus the files that could not be read (``problems``)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []


class RecoveryStore:
    """The recovery area of one workspace.

    Args:
        workspace: the workspace folder; buffer paths are relative to it (or absolute for files
            outside it).
        root: the area itself (see :func:`recovery_dir`).
    """

    def __init__(self, workspace: Path, root: Path) -> None:
        self.workspace = workspace
        self.root = root

    def _file_for(self, path: str) -> Path:
        digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return self.root / f"{digest}{BUFFER_SUFFIX}"

    def _absolute(self, path: str) -> Path:
        return self.workspace / path  # an absolute ``path`` stays absolute

    def save(self, path: str, text: str, *, base_sha256: str | None) -> None:
        """Keep ``text`` as the unsaved content of ``path`` (atomically; replaces older)."""
        record = {
            "version": FORMAT_VERSION,
            "path": path,
            "text": text,
            "saved_at": time.time(),
            "base_sha256": base_sha256,
        }
        data = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
        write_atomic(self._file_for(path), data)

    def discard(self, path: str) -> None:
        """Forget the unsaved content of ``path`` (nothing happens if there is none)."""
        self._file_for(path).unlink(missing_ok=True)

    def discard_all(self) -> None:
        """Forget every buffer (the layout stays)."""
        for entry in self._buffer_files():
            entry.unlink(missing_ok=True)

    def _buffer_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.root.iterdir() if p.name.endswith(BUFFER_SUFFIX))
        except OSError:
            return []

    def entries(self) -> RecoveryEntries:
        """The buffers kept, oldest path first; unreadable files are skipped (in ``problems``)."""
        found = RecoveryEntries()
        for file in self._buffer_files():
            try:
                record = json.loads(file.read_bytes())
                if not isinstance(record, dict) or record.get("version") != FORMAT_VERSION:
                    raise ValueError("not a recovery record of this version")
                path, text = record["path"], record["text"]
                base = record.get("base_sha256")
                saved_at = float(record.get("saved_at", 0.0))
                if not isinstance(path, str) or not isinstance(text, str) or not path:
                    raise ValueError("path or text missing")
                if base is not None and not isinstance(base, str):
                    raise ValueError("bad base_sha256")
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("skipping recovery file %s: %s", file, e)
                found.problems.append(f"{file.name}: {e}")
                continue
            now = file_sha256(self._absolute(path))
            found.append(RecoveredBuffer(path, text, saved_at, base, disk_changed=now != base))
        found.sort(key=lambda b: b.path)
        return found

    def save_layout(self, layout: dict[str, Any]) -> None:
        """Keep the window layout (any JSON-able dict)."""
        data = json.dumps({"version": FORMAT_VERSION, "layout": layout}).encode()
        write_atomic(self.root / LAYOUT_FILE, data)

    def load_layout(self) -> dict[str, Any] | None:
        """The layout kept last, or None (none kept, or unreadable)."""
        file = self.root / LAYOUT_FILE
        try:
            record = json.loads(file.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("skipping recovery layout %s: %s", file, e)
            return None
        if not isinstance(record, dict) or record.get("version") != FORMAT_VERSION:
            return None
        layout = record.get("layout")
        return layout if isinstance(layout, dict) else None
