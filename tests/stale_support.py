"""Helpers of the stale manager tests: a real store folder and SQLite database, rows written
directly (so these tests do not depend on the store's put path), and cold tier URLs."""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec

from engine.pit.artifacts import layout
from engine.pit.artifacts.db import Database
from engine.pit.artifacts.models import Tier

DAY = 86_400.0


def open_db(root: Path) -> Database:
    root.mkdir(parents=True, exist_ok=True)
    return Database(root / layout.DB_NAME)


def add_row(
    db: Database,
    digest: str,
    *,
    size: int = 1000,
    stored_size: int | None = None,
    tier: Tier = Tier.HOT,
    media_type: str = "application/octet-stream",
    last_access: float | None = None,
    access_count: int = 0,
    pinned: bool = False,
    tags: tuple[str, ...] = (),
) -> str:
    """Insert an artifact row (metadata only)."""
    now = time.time() if last_access is None else last_access
    with db.write() as conn:
        conn.execute(
            "INSERT INTO artifacts (hash, size, media_type, created_at, tier, pinned,"
            " last_access, access_count, stored_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest,
                size,
                media_type,
                now,
                tier.value,
                int(pinned),
                now,
                access_count,
                size if stored_size is None else stored_size,
            ),
        )
        conn.executemany("INSERT INTO tags (hash, tag) VALUES (?, ?)", [(digest, t) for t in tags])
    return digest


def add_blob(db: Database, root: Path, data: bytes, **fields: object) -> str:
    """Write ``data`` as a hot blob at its layout path and insert its row."""
    digest = hashlib.sha256(data).hexdigest()
    path = layout.hot_path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    add_row(db, digest, size=len(data), **fields)  # type: ignore[arg-type]
    return digest


def fake_hash(n: int) -> str:
    return hashlib.sha256(f"artifact {n}".encode()).hexdigest()


def dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to prove something changed nothing."""
    conn = db.connection()
    tables = ("artifacts", "producers", "edges", "tags", "names", "moves")
    out: dict[str, list[tuple[object, ...]]] = {}
    for table in tables:
        rows: list[sqlite3.Row] = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        out[table] = [tuple(r) for r in rows]
    return out


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("pit.db")
    }


def memory_url() -> Iterator[str]:
    """A fresh ``memory://`` cold tier, removed afterwards (fixture body)."""
    url = f"memory://cold-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    path = url.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)
