"""The user's extension database: registry, audit log and call metrics.

One SQLite file (``extensions.db`` in the user data directory, WAL mode) shared by every Symphony
process of the user, so ``symphony ext audit`` run from a shell sees what the TUI's extensions
did. Access goes through one connection behind a lock: the traffic is small (audit records are
buffered and written in batches, calls once each), and a single connection keeps closing safe.

- ``extensions``: one row per known extension: where it was found, its enabled state and the
  SHA-256 of its manifest pinned when it was first registered (or last accepted).
- ``audit``: every permission decision (allowed or denied) with its workspace.
- ``calls``: every step call with its duration and outcome; metrics are computed from it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.sqlite import open_versioned
from engine.types.errors import ExtensionError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["AuditRecord", "CallRecord", "CallStats", "ExtensionsDB", "RegistryRow"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS extensions (
    id            TEXT PRIMARY KEY,
    source        TEXT NOT NULL,       -- builtin | entry_point | folder
    path          TEXT NOT NULL,       -- folder holding the manifest
    version       TEXT NOT NULL,
    manifest_hash TEXT NOT NULL,       -- sha256 of the manifest pinned at registration
    enabled       INTEGER NOT NULL DEFAULT 1,
    pinned_at     REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY,
    ts         REAL NOT NULL,
    workspace  TEXT NOT NULL,
    extension  TEXT NOT NULL,
    permission TEXT NOT NULL,
    target     TEXT NOT NULL,
    decision   TEXT NOT NULL,          -- allowed | denied
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_ext ON audit(extension, id);

CREATE TABLE IF NOT EXISTS calls (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,
    workspace   TEXT NOT NULL,
    extension   TEXT NOT NULL,
    step_type   TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    ok          INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS calls_ext ON calls(extension, id);
"""

AUDIT_KEEP = 200_000  # newest audit rows kept; older ones are pruned on open
CALLS_KEEP = 50_000


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One registered extension."""

    id: str
    source: str
    path: str
    version: str
    manifest_hash: str
    enabled: bool
    pinned_at: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One permission decision."""

    ts: float
    workspace: str
    extension: str
    permission: str
    target: str
    decision: str
    detail: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One step call."""

    ts: float
    workspace: str
    extension: str
    step_type: str
    duration_ms: float
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class CallStats:
    """Call metrics of one extension (from the recorded calls)."""

    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ExtensionsDB:
    """Open (creating if needed) the extension database at ``path``.

    Raises:
        ExtensionError: the file cannot be opened or was written by a newer Symphony.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = open_versioned(
            path, SCHEMA, SCHEMA_VERSION, ExtensionError, "the extension database"
        )
        self._closed = False
        try:
            self._prune()
        except sqlite3.Error as e:
            self.close()
            raise ExtensionError(f"{path}: cannot open the extension database: {e}") from e

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _prune(self) -> None:
        for table, keep in (("audit", AUDIT_KEEP), ("calls", CALLS_KEEP)):
            self._conn.execute(
                f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?", (keep,)
            )

    def _execute(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            if self._closed:
                raise ExtensionError(f"{self.path}: the extension database is closed")
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise ExtensionError(f"{self.path}: {e}") from e

    # --- registry ------------------------------------------------------------------------------

    def registry(self) -> dict[str, RegistryRow]:
        rows = self._execute(
            "SELECT id, source, path, version, manifest_hash, enabled, pinned_at FROM extensions"
        )
        return {
            str(r[0]): RegistryRow(
                id=str(r[0]),
                source=str(r[1]),
                path=str(r[2]),
                version=str(r[3]),
                manifest_hash=str(r[4]),
                enabled=bool(r[5]),
                pinned_at=float(r[6]),  # type: ignore[arg-type]
            )
            for r in rows
        }

    def pin(
        self,
        ext_id: str,
        *,
        source: str,
        path: str,
        version: str,
        digest: str,
        enabled: bool = True,
    ) -> None:
        """Register ``ext_id`` (``enabled`` applies to a new row) or accept its current
        manifest, keeping the enabled state of a known one."""
        self._execute(
            "INSERT INTO extensions(id, source, path, version, manifest_hash, enabled, pinned_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET source = excluded.source,"
            " path = excluded.path, version = excluded.version,"
            " manifest_hash = excluded.manifest_hash, pinned_at = excluded.pinned_at",
            (ext_id, source, path, version, digest, int(enabled), time.time()),
        )

    def set_enabled(self, ext_id: str, enabled: bool) -> None:
        self._execute("UPDATE extensions SET enabled = ? WHERE id = ?", (int(enabled), ext_id))

    def apply(self, rows: Sequence[RegistryRow] = (), remove: Sequence[str] = ()) -> None:
        """Write whole rows (enabled state included) and delete ids in one transaction: the
        registry shows all of it or none (the installer's commit)."""
        with self._lock:
            if self._closed:
                raise ExtensionError(f"{self.path}: the extension database is closed")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO extensions(id, source, path, version, manifest_hash,"
                    " enabled, pinned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.id,
                            r.source,
                            r.path,
                            r.version,
                            r.manifest_hash,
                            int(r.enabled),
                            r.pinned_at,
                        )
                        for r in rows
                    ],
                )
                self._conn.executemany(
                    "DELETE FROM extensions WHERE id = ?", [(i,) for i in remove]
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise ExtensionError(f"{self.path}: cannot update the registry: {e}") from e

    # --- audit ---------------------------------------------------------------------------------

    def _insert_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Insert ``rows`` in one transaction (nothing when closed: records of a late thread)."""
        if not rows:
            return
        with self._lock:
            if self._closed:
                return
            try:
                self._conn.execute("BEGIN")
                self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise ExtensionError(f"{self.path}: cannot write: {e}") from e

    def add_audit(self, records: list[AuditRecord]) -> None:
        self._insert_many(
            "INSERT INTO audit(ts, workspace, extension, permission, target, decision, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.ts, r.workspace, r.extension, r.permission, r.target, r.decision, r.detail)
                for r in records
            ],
        )

    def audit(
        self,
        extension: str | None = None,
        *,
        denied_only: bool = False,
        limit: int = 50,
        workspace: str | None = None,
    ) -> list[AuditRecord]:
        """The newest audit records (of one workspace, or all), newest last."""
        where, args = [], []
        if extension:
            where.append("extension = ?")
            args.append(extension)
        if workspace:
            where.append("workspace = ?")
            args.append(workspace)
        if denied_only:
            where.append("decision = 'denied'")
        sql = "SELECT ts, workspace, extension, permission, target, decision, detail FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._execute(sql, (*args, limit))
        return [AuditRecord(*r) for r in reversed(rows)]  # type: ignore[arg-type]

    # --- calls ---------------------------------------------------------------------------------

    def add_call(
        self,
        *,
        workspace: str,
        extension: str,
        step_type: str,
        duration_ms: float,
        ok: bool,
        error: str = "",
    ) -> None:
        self.add_calls(
            [CallRecord(time.time(), workspace, extension, step_type, duration_ms, ok, error)]
        )

    def add_calls(self, records: list[CallRecord]) -> None:
        self._insert_many(
            "INSERT INTO calls(ts, workspace, extension, step_type, duration_ms, ok, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.ts, r.workspace, r.extension, r.step_type, r.duration_ms, int(r.ok), r.error)
                for r in records
            ],
        )

    def call_stats(self, extension: str) -> CallStats:
        """Calls, errors and latency percentiles over the recorded calls of ``extension``."""
        rows = self._execute(
            "SELECT duration_ms, ok FROM calls WHERE extension = ? ORDER BY id", (extension,)
        )
        durations = sorted(float(r[0]) for r in rows)  # type: ignore[arg-type]
        errors = sum(1 for r in rows if not r[1])
        return CallStats(
            calls=len(rows),
            errors=errors,
            p50_ms=percentile(durations, 50),
            p95_ms=percentile(durations, 95),
            p99_ms=percentile(durations, 99),
        )


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil without floats drifting
    return sorted_values[int(rank) - 1]
