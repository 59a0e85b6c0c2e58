"""Metadata reads and writes of the artifact store: put records, references, info, lineage.

Every function takes a connection from :class:`~engine.pit.artifacts.db.Database`; writers expect
to run inside its ``write()`` transaction. This module must not touch blob files: the store places
blobs, this module only records them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from engine.pit.artifacts import search
from engine.pit.artifacts.models import ArtifactInfo, LineageEdge, Producer, Tier, Version
from engine.types.errors import UsageError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

Direction = Literal["up", "down", "both"]

MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+")
_VERSIONED = re.compile(r"^(?P<name>.+)@(?P<version>\d+)$")


def check_name(name: str) -> str:
    """Validate an artifact name (it must stay resolvable, so ``x@3`` is not a name)."""
    if not name or name != name.strip() or any(ord(c) < 32 for c in name):
        raise UsageError(f"invalid artifact name {name!r}: empty, padded or with control chars")
    if _VERSIONED.match(name):
        raise UsageError(f"invalid artifact name {name!r}: '@<number>' selects a version")
    return name


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Validate tags: non-empty, no whitespace, no control characters."""
    for tag in tags:
        if not tag or any(c.isspace() or ord(c) < 32 for c in tag):
            raise UsageError(f"invalid tag {tag!r}: tags are single words")
    return tuple(dict.fromkeys(tags))


def resolve(conn: sqlite3.Connection, ref: str) -> str:
    """The hash ``ref`` names; see :meth:`ArtifactStore.resolve`."""
    ref = ref.strip()
    if not ref:
        raise UsageError("empty artifact reference")
    versioned = _VERSIONED.match(ref)
    if versioned:
        name, version = versioned["name"], int(versioned["version"])
        row = conn.execute(
            "SELECT hash FROM names WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        if row:
            return str(row[0])
        latest = _latest(conn, name)
        if latest is not None:
            raise UsageError(f"artifact {name!r} has no version {version} (latest is {latest[0]})")
        raise UsageError(f"no artifact named {name!r}")
    latest = _latest(conn, ref)
    if latest is not None:
        return latest[1]
    low = ref.lower()
    if _HEX.fullmatch(low) and len(low) >= MIN_PREFIX:
        rows = conn.execute(
            "SELECT hash FROM artifacts WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT 6",
            (low, low + "g"),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if rows:
            shown = ", ".join(r[0][:12] for r in rows[:5]) + (", …" if len(rows) > 5 else "")
            raise UsageError(f"hash prefix {ref!r} is ambiguous: {shown}; give more characters")
        raise UsageError(f"no artifact with hash {ref!r}")
    hint = (
        f" (hash prefixes need at least {MIN_PREFIX} characters)"
        if _HEX.fullmatch(low) and len(low) < MIN_PREFIX
        else ""
    )
    raise UsageError(f"no artifact named {ref!r}{hint}")


def _latest(conn: sqlite3.Connection, name: str) -> tuple[int, str] | None:
    row = conn.execute(
        "SELECT version, hash FROM names WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def record_put(
    conn: sqlite3.Connection,
    *,
    digest: str,
    size: int,
    media_type: str,
    now: float,
    name: str | None,
    tags: Sequence[str],
    producer: Producer | None,
    inputs: Sequence[str],
    content: str | None,
    index: bool = True,
) -> Tier | None:
    """Record one put whose hot blob is in place (inside a write transaction).

    With ``index`` off the search row is left to the caller (``put_many`` writes a batch's rows
    in rowid order, which FTS5 appends without flushing a segment per row).

    Returns:
        The tier the artifact had before (None if it is new). Storing existing content is a use
        (``last_access`` is set to ``now``). A non-hot artifact is set back to hot, since the put
        just wrote its hot copy; the old warm copy becomes an orphan for ``gc``. A tier move
        away from hot in flight is cancelled (see :func:`_cancel_demotion`); a move to hot is
        left to finish.
    """
    created = conn.execute(
        "INSERT INTO artifacts(hash, size, media_type, created_at, tier, pinned, last_access,"
        " access_count, stored_size) VALUES (?, ?, ?, ?, 'hot', 0, ?, 0, ?)"
        " ON CONFLICT(hash) DO NOTHING",
        (digest, size, media_type, now, now, size),
    ).rowcount
    previous: Tier | None = None
    if not created:
        previous = Tier(
            conn.execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()[0]
        )
        moving = _cancel_demotion(conn, digest)
        conn.execute(
            "UPDATE artifacts SET last_access = max(last_access, ?) WHERE hash = ?", (now, digest)
        )
        if previous is not Tier.HOT and not moving:
            conn.execute(
                "UPDATE artifacts SET tier = 'hot', stored_size = size WHERE hash = ?", (digest,)
            )
    if producer is not None:
        fields = (producer.run, producer.node, producer.extension, producer.model)
        dup = (
            not created
            and conn.execute(
                "SELECT 1 FROM producers WHERE hash = ? AND run IS ? AND node IS ?"
                " AND extension IS ? AND model IS ?",
                (digest, *fields),
            ).fetchone()
        )
        if not dup:
            conn.execute(
                "INSERT INTO producers(hash, run, node, extension, model, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (digest, *fields, now),
            )
    for parent in inputs:
        if parent == digest:
            continue  # content can't be made from itself; a self-edge would only be a cycle
        if not conn.execute("SELECT 1 FROM artifacts WHERE hash = ?", (parent,)).fetchone():
            raise UsageError(f"input artifact {parent} does not exist")
        conn.execute("INSERT OR IGNORE INTO edges(parent, child) VALUES (?, ?)", (parent, digest))
    conn.executemany(
        "INSERT OR IGNORE INTO tags(hash, tag) VALUES (?, ?)", [(digest, t) for t in tags]
    )
    if name is not None:
        latest = _latest(conn, name)
        if latest is None or latest[1] != digest:
            conn.execute(
                "INSERT INTO names(name, version, hash, created_at) VALUES (?, ?, ?, ?)",
                (name, 1 if latest is None else latest[0] + 1, digest, now),
            )
    if index and created:  # everything the row holds is known: skip reading it back
        search.insert_row(
            conn,
            digest,
            names=[name] if name is not None else [],
            tags=tags,
            media_type=media_type,
            producers=[producer] if producer is not None else [],
            content=content,
        )
    elif index:
        search.write_row(conn, digest)
    return previous


def _cancel_demotion(conn: sqlite3.Connection, digest: str) -> bool:
    """Cancel a tier move of ``digest`` away from hot that is in flight (inside the put's write).

    The put has just placed (or found) the hot blob under the same write lock; deleting the
    journal row makes the mover's switch, or its removal of the hot copy, fail, so the mover
    drops only its own new copy (see :mod:`engine.pit.stale.moves`).

    Returns:
        Whether a move to hot is still in flight (the artifact is left to it).
    """
    row = conn.execute("SELECT to_tier FROM moves WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        return False
    if row[0] == Tier.HOT.value:
        return True
    conn.execute("DELETE FROM moves WHERE hash = ?", (digest,))
    return False


def info(conn: sqlite3.Connection, digest: str) -> ArtifactInfo:
    """Everything known about one artifact (by full hash)."""
    row = conn.execute(
        "SELECT hash, size, media_type, created_at, tier, pinned, last_access, access_count,"
        " stored_size FROM artifacts WHERE hash = ?",
        (digest,),
    ).fetchone()
    if row is None:
        raise UsageError(f"no artifact with hash {digest!r}")
    names, tags = search.names_and_tags(conn, [digest])
    producers = tuple(
        Producer(run=r[0], node=r[1], extension=r[2], model=r[3])
        for r in conn.execute(
            "SELECT run, node, extension, model FROM producers WHERE hash = ? ORDER BY rowid",
            (digest,),
        )
    )
    inputs = tuple(
        r[0]
        for r in conn.execute("SELECT parent FROM edges WHERE child = ? ORDER BY parent", (digest,))
    )
    return ArtifactInfo(
        hash=row[0],
        size=row[1],
        media_type=row[2],
        created_at=row[3],
        tier=Tier(row[4]),
        pinned=bool(row[5]),
        last_access=row[6],
        access_count=row[7],
        stored_size=row[8],
        names=names.get(digest, ()),
        tags=tags.get(digest, ()),
        producers=producers,
        inputs=inputs,
    )


def versions(conn: sqlite3.Connection, name: str) -> list[Version]:
    """The version chain of a name, oldest first."""
    rows = conn.execute(
        "SELECT name, version, hash, created_at FROM names WHERE name = ? ORDER BY version",
        (name,),
    ).fetchall()
    if not rows:
        raise UsageError(f"no artifact named {name!r}")
    return [Version(name=r[0], version=r[1], hash=r[2], created_at=r[3]) for r in rows]


# Breadth-first walk from the start along one direction, one query per level (and per chunk of
# the level, under SQLite's limit on bound variables). Each node is expanded once, at the level
# it is first reached, so cycles end and diamonds cost nothing; each edge is met once, with the
# depth of that level.
_CHUNK = 500
_STEP = {
    "up": "SELECT parent, child FROM edges WHERE child IN ({})",
    "down": "SELECT parent, child FROM edges WHERE parent IN ({})",
}


def _walk(conn: sqlite3.Connection, digest: str, way: str, depth: int | None) -> list[LineageEdge]:
    seen = {digest}
    frontier = [digest]
    edges: list[LineageEdge] = []
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        reached: list[str] = []
        for i in range(0, len(frontier), _CHUNK):
            chunk = frontier[i : i + _CHUNK]
            sql = _STEP[way].format(",".join("?" * len(chunk)))
            for parent, child in conn.execute(sql, chunk):
                edges.append(LineageEdge(parent=parent, child=child, depth=level))
                node = parent if way == "up" else child
                if node not in seen:
                    seen.add(node)
                    reached.append(node)
        frontier = reached
    return edges


def lineage(
    conn: sqlite3.Connection, digest: str, direction: Direction, depth: int | None
) -> list[LineageEdge]:
    """Edges around an artifact; see :meth:`ArtifactStore.lineage`."""
    if direction not in ("up", "down", "both"):
        raise UsageError(f"lineage direction must be up, down or both, not {direction!r}")
    if depth is not None and depth < 1:
        raise UsageError(f"lineage depth must be at least 1, not {depth}")
    found: dict[tuple[str, str], int] = {}
    for way in ("up", "down"):
        if direction in (way, "both"):
            for edge in _walk(conn, digest, way, depth):
                key = (edge.parent, edge.child)
                found[key] = min(found.get(key, edge.depth), edge.depth)
    return [
        LineageEdge(parent=p, child=c, depth=d)
        for (p, c), d in sorted(found.items(), key=lambda item: (item[1], item[0]))
    ]
