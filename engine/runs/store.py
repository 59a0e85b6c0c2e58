"""Run persistence: runs, step states, decisions, the step cache and file hashes (SQLite).

One database per workspace (``.symphony/runs.db``, WAL mode). A run row pins the melody
definition it started with (its JSON and hash), so ``--resume`` continues exactly that melody
even if the file changed since. Step rows are written in batches by the scheduler (one
transaction per batch): a ``kill -9`` loses at most the last batch of transitions, and those
steps simply run again on resume. The cache maps a step's cache key to its outputs and their
artifact; file hashes remember the SHA-256 of workspace files by (size, mtime) so unchanged
files are never read twice. Bandit outcomes (per capability and extension) survive runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.runs.states import RunState, StepState
from engine.sqlite import open_versioned
from engine.types.errors import RunError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

__all__ = ["CacheEntry", "Decision", "Outcome", "RunRow", "RunStore", "StepRow"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,
    melody          TEXT NOT NULL,
    path            TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    definition      TEXT NOT NULL,      -- the melody as JSON, pinned for resume
    params          TEXT NOT NULL,      -- JSON
    state           TEXT NOT NULL,
    created         REAL NOT NULL,
    finished        REAL,
    pid             INTEGER NOT NULL,
    parent          TEXT,               -- the run --from reused outputs of
    from_step       TEXT,
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);

CREATE TABLE IF NOT EXISTS steps (
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,       -- declaration order
    uses        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started     REAL,
    finished    REAL,
    duration_ms REAL,
    cache_key   TEXT,
    cached      INTEGER NOT NULL DEFAULT 0,
    extension   TEXT,
    outputs     TEXT,                   -- JSON
    artifact    TEXT,                   -- hash of the outputs artifact
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS decisions (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL,
    ts           REAL NOT NULL,
    step_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,         -- provider | retry | fallback | skip | arbitration | cache
    choice       TEXT NOT NULL,
    rationale    TEXT NOT NULL,
    alternatives TEXT NOT NULL          -- JSON list
);
CREATE INDEX IF NOT EXISTS decisions_run ON decisions(run_id, id);

CREATE TABLE IF NOT EXISTS cache (
    key       TEXT PRIMARY KEY,
    step_type TEXT NOT NULL,
    extension TEXT NOT NULL,
    outputs   TEXT NOT NULL,
    artifact  TEXT,
    created   REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS file_hashes (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS outcomes (
    capability TEXT NOT NULL,
    extension  TEXT NOT NULL,
    successes  INTEGER NOT NULL DEFAULT 0,
    failures   INTEGER NOT NULL DEFAULT 0,
    total_ms   REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (capability, extension)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    melody: str
    path: str
    definition_hash: str
    definition: str
    params: dict[str, Any]
    state: RunState
    created: float
    finished: float | None
    pid: int
    parent: str | None
    from_step: str | None
    error: str


@dataclass(slots=True)
class StepRow:
    run_id: str
    step_id: str
    seq: int
    uses: str
    state: StepState = StepState.PENDING
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    duration_ms: float | None = None
    cache_key: str | None = None
    cached: bool = False
    extension: str | None = None
    outputs: dict[str, Any] | None = None
    artifact: str | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    run_id: str
    step_id: str
    kind: str
    choice: str
    rationale: str
    alternatives: tuple[str, ...] = ()
    ts: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    key: str
    step_type: str
    extension: str
    outputs: dict[str, Any]
    artifact: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    capability: str
    extension: str
    successes: int
    failures: int
    total_ms: float


class RunStore:
    """The runs database of one workspace (created on first use).

    Raises:
        RunError: the database cannot be opened or is from a newer Symphony.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = open_versioned(path, SCHEMA, SCHEMA_VERSION, RunError, "the runs database")
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise RunError(f"{self.path}: the runs database is closed")
            try:
                return self._conn.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as e:
                raise RunError(f"{self.path}: {e}") from e

    def _write(self, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Run several executemany statements in one transaction."""
        if not any(rows for _, rows in statements):
            return
        with self._lock:
            if self._closed:
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for sql, rows in statements:
                    if rows:
                        self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise RunError(f"{self.path}: cannot write: {e}") from e

    # --- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        melody: str,
        path: str,
        definition_hash: str,
        definition: str,
        params: dict[str, Any],
        steps: list[StepRow],
        parent: str | None = None,
        from_step: str | None = None,
    ) -> None:
        self._write(
            [
                (
                    "INSERT INTO runs(id, melody, path, definition_hash, definition, params,"
                    " state, created, pid, parent, from_step) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            run_id,
                            melody,
                            path,
                            definition_hash,
                            definition,
                            json.dumps(params, sort_keys=True, default=str),
                            RunState.RUNNING.value,
                            time.time(),
                            os.getpid(),
                            parent,
                            from_step,
                        )
                    ],
                ),
                (_STEP_UPSERT, [_step_values(s) for s in steps]),
            ]
        )

    def set_run_state(
        self, run_id: str, state: RunState, *, error: str = "", pid: int | None = None
    ) -> None:
        finished = None if state is RunState.RUNNING else time.time()
        self._query(
            "UPDATE runs SET state = ?, finished = ?, error = ?, pid = COALESCE(?, pid)"
            " WHERE id = ?",
            (state.value, finished, error, pid, run_id),
        )

    def claim(self, run_id: str, pid: int) -> bool:
        """Mark a run that is not running as running in process ``pid``; False if another
        process claimed it first (two resumes at once)."""
        with self._lock:
            if self._closed:
                raise RunError(f"{self.path}: the runs database is closed")
            cur = self._conn.execute(
                "UPDATE runs SET state = 'running', pid = ?, finished = NULL, error = ''"
                " WHERE id = ? AND state != 'running' AND state != 'completed'",
                (pid, run_id),
            )
            return cur.rowcount == 1

    def crash_steps(self, run_id: str) -> None:
        """Steps a dead run left queued or running are recorded crashed."""
        self._query(
            "UPDATE steps SET state = 'crashed', error = 'its run ended with the process'"
            " WHERE run_id = ? AND state IN ('queued', 'running')",
            (run_id,),
        )

    def run(self, run_id: str) -> RunRow:
        """One run by id or unique id prefix.

        Raises:
            RunError: no such run, or the prefix is ambiguous (exit code 2 via UsageError).
        """
        from engine.types.errors import UsageError

        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE substr(id, 1, length(?1)) = ?1", (run_id,)
        )
        if not rows:
            raise UsageError(f"no run {run_id!r} (see `symphony runs list`)")
        if len(rows) > 1 and not any(r[0] == run_id for r in rows):
            raise UsageError(f"run id {run_id!r} is ambiguous ({len(rows)} runs match)")
        row = next((r for r in rows if r[0] == run_id), rows[0])
        return _run_row(row)

    def runs(self, *, melody: str | None = None, limit: int = 20) -> list[RunRow]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        args: list[Any] = []
        if melody:
            sql += " WHERE melody = ?"
            args.append(melody)
        sql += " ORDER BY created DESC LIMIT ?"
        args.append(limit)
        return [_run_row(r) for r in self._query(sql, args)]

    # --- steps ---------------------------------------------------------------------------------

    def save_steps(
        self,
        steps: list[StepRow],
        decisions: Sequence[Decision] = (),
        cache: Sequence[CacheEntry] = (),
    ) -> None:
        """Step rows, decisions and cache entries, in one transaction."""
        self._write(
            [
                (_CACHE_PUT, [_cache_values(e) for e in cache]),
                (_STEP_UPSERT, [_step_values(s) for s in steps]),
                (
                    "INSERT INTO decisions(run_id, ts, step_id, kind, choice, rationale,"
                    " alternatives) VALUES (?,?,?,?,?,?,?)",
                    [
                        (
                            d.run_id,
                            d.ts,
                            d.step_id,
                            d.kind,
                            d.choice,
                            d.rationale,
                            json.dumps(list(d.alternatives)),
                        )
                        for d in decisions
                    ],
                ),
            ]
        )

    def steps(self, run_id: str) -> list[StepRow]:
        rows = self._query(
            "SELECT run_id, step_id, seq, uses, state, attempts, started, finished, duration_ms,"
            " cache_key, cached, extension, outputs, artifact, error FROM steps WHERE run_id = ?"
            " ORDER BY seq",
            (run_id,),
        )
        return [
            StepRow(
                run_id=r[0],
                step_id=r[1],
                seq=r[2],
                uses=r[3],
                state=StepState(r[4]),
                attempts=r[5],
                started=r[6],
                finished=r[7],
                duration_ms=r[8],
                cache_key=r[9],
                cached=bool(r[10]),
                extension=r[11],
                outputs=json.loads(r[12]) if r[12] is not None else None,
                artifact=r[13],
                error=r[14],
            )
            for r in rows
        ]

    def decisions(self, run_id: str) -> list[Decision]:
        rows = self._query(
            "SELECT run_id, step_id, kind, choice, rationale, alternatives, ts FROM decisions"
            " WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [Decision(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6]) for r in rows]

    # --- cache ---------------------------------------------------------------------------------

    def cache_get(self, key: str) -> CacheEntry | None:
        rows = self._query(
            "SELECT key, step_type, extension, outputs, artifact FROM cache WHERE key = ?", (key,)
        )
        if not rows:
            return None
        r = rows[0]
        return CacheEntry(r[0], r[1], r[2], json.loads(r[3]), r[4])

    def cache_put(self, entries: list[CacheEntry]) -> None:
        self._write([(_CACHE_PUT, [_cache_values(e) for e in entries])])

    # --- file hashes ---------------------------------------------------------------------------

    def file_hashes(self) -> dict[str, tuple[int, int, str]]:
        """Every remembered file hash: path → (size, mtime_ns, sha256)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self._query("SELECT * FROM file_hashes")}

    def put_file_hashes(self, rows: list[tuple[str, int, int, str]]) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, sha256)"
                    " VALUES (?,?,?,?)",
                    rows,
                )
            ]
        )

    # --- outcomes (bandit) ---------------------------------------------------------------------

    def outcomes(self, capability: str) -> dict[str, Outcome]:
        rows = self._query(
            "SELECT capability, extension, successes, failures, total_ms FROM outcomes"
            " WHERE capability = ?",
            (capability,),
        )
        return {r[1]: Outcome(*r) for r in rows}

    def record_outcome(self, capability: str, extension: str, ok: bool, ms: float) -> None:
        self.record_outcomes([(capability, extension, int(ok), int(not ok), ms)])

    def record_outcomes(self, rows: list[tuple[str, str, int, int, float]]) -> None:
        """Add (capability, extension, successes, failures, total_ms) to the totals."""
        self._write(
            [
                (
                    "INSERT INTO outcomes(capability, extension, successes, failures, total_ms)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(capability, extension) DO UPDATE SET"
                    " successes = successes + excluded.successes,"
                    " failures = failures + excluded.failures,"
                    " total_ms = total_ms + excluded.total_ms",
                    rows,
                )
            ]
        )


_RUN_COLUMNS = (
    "id, melody, path, definition_hash, definition, params, state, created, finished, pid,"
    " parent, from_step, error"
)

_STEP_UPSERT = (
    "INSERT OR REPLACE INTO steps(run_id, step_id, seq, uses, state, attempts, started, finished,"
    " duration_ms, cache_key, cached, extension, outputs, artifact, error)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


_CACHE_PUT = (
    "INSERT OR REPLACE INTO cache(key, step_type, extension, outputs, artifact, created)"
    " VALUES (?,?,?,?,?,?)"
)


def _cache_values(e: CacheEntry) -> tuple[Any, ...]:
    outputs = json.dumps(e.outputs, sort_keys=True, default=str)
    return (e.key, e.step_type, e.extension, outputs, e.artifact, time.time())


def _step_values(s: StepRow) -> tuple[Any, ...]:
    return (
        s.run_id,
        s.step_id,
        s.seq,
        s.uses,
        s.state.value,
        s.attempts,
        s.started,
        s.finished,
        s.duration_ms,
        s.cache_key,
        int(s.cached),
        s.extension,
        None if s.outputs is None else json.dumps(s.outputs, sort_keys=True, default=str),
        s.artifact,
        s.error,
    )


def _run_row(r: tuple[Any, ...]) -> RunRow:
    return RunRow(
        id=r[0],
        melody=r[1],
        path=r[2],
        definition_hash=r[3],
        definition=r[4],
        params=json.loads(r[5]),
        state=RunState(r[6]),
        created=r[7],
        finished=r[8],
        pid=r[9],
        parent=r[10],
        from_step=r[11],
        error=r[12],
    )
