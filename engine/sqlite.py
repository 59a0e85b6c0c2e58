"""Opening a small versioned SQLite database shared by threads and processes.

The extension registry and the run store both keep one connection behind a lock, in WAL mode
with ``synchronous = NORMAL``, and version their schema with ``PRAGMA user_version``. A file
written by a newer Symphony is refused before anything in it changes.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from engine.types.errors import SymphonyError

__all__ = ["open_versioned"]


def open_versioned(
    path: Path, schema: str, version: int, error: type[SymphonyError], what: str
) -> sqlite3.Connection:
    """Open (creating it and its folder) the database at ``path`` with ``schema`` applied.

    Args:
        schema: ``CREATE … IF NOT EXISTS`` statements, run when the file's version is older.
        version: the schema version this code writes.
        error: the error raised on failure (its message names ``path`` and ``what``).
        what: the database's name in messages ("the runs database").

    Raises:
        error: the file cannot be opened, or its schema is newer than ``version``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    except (OSError, sqlite3.Error) as e:
        raise error(f"{path}: cannot open {what}: {e}") from e
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > version:  # refuse before changing anything in the file
            raise error(
                f"{path}: schema version {found} is newer than this Symphony's ({version});"
                " upgrade Symphony"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if found < version:
            conn.executescript(
                f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;"
            )
    except BaseException as e:
        conn.close()
        if isinstance(e, sqlite3.Error):
            raise error(f"{path}: cannot open {what}: {e}") from e
        raise
    return conn
