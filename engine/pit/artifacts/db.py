"""SQLite metadata of the artifact store: schema, connections and transactions.

One database file (``pit.db``) in WAL mode, shared by threads and processes. Every thread gets
its own connection; writes run inside ``BEGIN IMMEDIATE`` so concurrent writers queue on SQLite's
lock (``busy_timeout``) instead of failing. The schema is versioned with ``PRAGMA user_version``.
This module knows tables, not policy: the store and the stale manager hold the logic.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.types.errors import ArtifactError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    hash         TEXT PRIMARY KEY,            -- sha256 hex of the content
    size         INTEGER NOT NULL,            -- bytes of the content
    media_type   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    tier         TEXT NOT NULL DEFAULT 'hot', -- hot | warm | cold | deleted
    pinned       INTEGER NOT NULL DEFAULT 0,
    last_access  REAL NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    stored_size  INTEGER NOT NULL             -- bytes on disk in the current tier
);
CREATE INDEX IF NOT EXISTS artifacts_created ON artifacts(created_at);
CREATE INDEX IF NOT EXISTS artifacts_tier ON artifacts(tier, last_access);

CREATE TABLE IF NOT EXISTS producers (       -- who made it; one row per distinct producer
    hash       TEXT NOT NULL REFERENCES artifacts(hash),
    run        TEXT,
    node       TEXT,
    extension  TEXT,
    model      TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS producers_hash ON producers(hash);
CREATE INDEX IF NOT EXISTS producers_run ON producers(run);

CREATE TABLE IF NOT EXISTS edges (           -- lineage: parent was an input of child
    parent TEXT NOT NULL,
    child  TEXT NOT NULL,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_child ON edges(child, parent);

CREATE TABLE IF NOT EXISTS tags (
    hash TEXT NOT NULL REFERENCES artifacts(hash),
    tag  TEXT NOT NULL,
    PRIMARY KEY (hash, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);

CREATE TABLE IF NOT EXISTS names (           -- version chains of named artifacts
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    hash       TEXT NOT NULL REFERENCES artifacts(hash),
    created_at REAL NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS names_hash ON names(hash);

CREATE TABLE IF NOT EXISTS moves (           -- journal of tier moves in flight (crash recovery)
    hash       TEXT PRIMARY KEY,
    from_tier  TEXT NOT NULL,
    to_tier    TEXT NOT NULL,
    started_at REAL NOT NULL
);

CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    hash UNINDEXED, names, tags, media_type, producer, content,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '3'                             -- `abc*` reads one index, not every term
);
"""


CLOSE_WAIT_S = 10.0  # how long close() waits for operations in flight


class _Slot:
    """One thread's connection and how deep that thread is in :meth:`Database.session`."""

    __slots__ = ("conn", "depth")

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.depth = 0


class Database:
    """The metadata database of one store.

    Connections are closed only when no operation uses them: :meth:`close` closes the idle
    ones, waits (a bounded time) for the operations in flight in other threads, and leaves a
    connection still busy after that to its own thread, which closes it when its operation
    ends. Closing a connection another thread is stepping through crashes the interpreter.

    Args:
        path: the SQLite file; its folder must exist.
        busy_timeout_ms: how long a writer waits for another writer's lock.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._slots: list[_Slot] = []
        self._cond = threading.Condition()
        self._active = 0  # threads inside session()
        self._closed = False
        conn = self.connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self.close()
            raise ArtifactError(
                f"{path}: schema version {version} is newer than this Symphony"
                f" ({SCHEMA_VERSION}); upgrade Symphony to open this store"
            )
        if version < SCHEMA_VERSION:
            # One script in one IMMEDIATE transaction, so processes racing to create the
            # store serialise here (executescript would commit an open transaction first).
            conn.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _refuse(self) -> ArtifactError:
        return ArtifactError(f"{self.path}: the artifact store is closed")

    def _slot(self) -> _Slot:
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            slot = _Slot()
            with self._cond:
                if self._closed:
                    raise self._refuse()
                self._slots.append(slot)
            self._local.slot = slot
        return slot

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; use :meth:`write` for transactions).

        Code that may run while another thread closes the database must use the connection
        inside :meth:`session` (the store's methods do).

        Raises:
            ArtifactError: the database is closed or cannot be opened.
        """
        slot = self._slot()
        if self._closed and slot.depth == 0:
            raise self._refuse()  # (an operation in flight may finish)
        if slot.conn is not None:
            return slot.conn
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
        except sqlite3.Error as e:
            raise ArtifactError(f"{self.path}: cannot open the artifact database: {e}") from e
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._cond:
            refused = self._closed and slot.depth == 0
            if not refused:
                slot.conn = conn
        if refused:
            conn.close()
            raise self._refuse()
        return conn

    @contextmanager
    def session(self) -> Iterator[None]:
        """Mark an operation in flight on this thread (re-entrant): :meth:`close` waits for it.

        Raises:
            ArtifactError: the database is closed.
        """
        slot = self._slot()
        with self._cond:
            if slot.depth == 0:
                if self._closed:
                    raise self._refuse()
                self._active += 1
            slot.depth += 1
        try:
            yield
        finally:
            leftover: sqlite3.Connection | None = None
            with self._cond:
                slot.depth -= 1
                if slot.depth == 0:
                    self._active -= 1
                    self._cond.notify_all()
                    if self._closed:
                        leftover, slot.conn = slot.conn, None
            if leftover is not None:
                leftover.close()  # close() left this busy connection to its own thread

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on error)."""
        with self.session():
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self, *, wait_s: float = CLOSE_WAIT_S) -> None:
        """Refuse new operations, wait up to ``wait_s`` for those in flight, close connections.

        A connection still in use after the wait is closed by its thread when its operation
        ends. Idempotent.
        """
        own: _Slot | None = getattr(self._local, "slot", None)
        mine = 1 if own is not None and own.depth > 0 else 0
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._active <= mine, timeout=wait_s)
            idle: list[sqlite3.Connection] = []
            for slot in self._slots:
                if slot.conn is not None and (slot.depth == 0 or slot is own):
                    idle.append(slot.conn)
                    slot.conn = None
            self._slots = [s for s in self._slots if s.conn is not None]
        for conn in idle:
            conn.close()
