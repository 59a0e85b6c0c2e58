"""Full-text search of the artifact store (SQLite FTS5) and upkeep of the index rows.

Each artifact has one row in the ``search`` table: its names, tags, media type, producers and,
for text, the first ``index_text_bytes`` of its content. The row's rowid is derived from the hash
(its first 60 bits, probing a few slots on a collision) so a row is found by rowid in O(log n)
and stays stable across ``VACUUM``. User words are quoted one by one before they reach
``MATCH``, so no input can be an FTS5 syntax error. This module must not touch blob files.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from engine.pit.artifacts.models import Producer, SearchHit
from engine.types.errors import ArtifactError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SNIPPET_OPEN = "«"
SNIPPET_CLOSE = "»"
SNIPPET_ELLIPSIS = "…"
SNIPPET_TOKENS = 12
MIN_PREFIX = 3
_PROBE = 16
# bm25 weights per column: hash, names, tags, media_type, producer, content.
_BM25 = "bm25(search, 0.0, 10.0, 5.0, 2.0, 2.0, 1.0)"
_WINDOW = 64  # filtered search: fewest candidates ranked before the exact filters run
_SNIPPET_WINDOW = 512  # beyond this many candidates, snippets are made for the hits only
# Filters passing at most this many artifacts rank only those (their search rows joined from a
# TEMP table) instead of ranking every match and filtering after. Measured on 50,000 artifacts,
# common word: 80 passing → 13 ms instead of 150; 1,000 → 17 ms vs 114; 5,000 → 44 ms vs 77;
# 8,000 → 60 ms vs 66 (about 5 ms more per 1,000, so the windowed path wins beyond). With FTS5
# column prefilters (tags, producer, media type) the windowed path ranks few rows and wins
# unless the filters keep very few (tag on 500 rows: 8 ms vs 16).
_RESTRICT_MAX = 8000
_RESTRICT_MAX_PREFILTERED = 100
# Snippets come from the content when there is some (a filter's words may also match the tags
# column, which is not what the user wants to see), else from the best-matching column. With
# LIMIT, SQLite computes them only for rows that make the cut.
_SNIPPET = "CASE WHEN content != '' THEN {} ELSE {} END".format(
    *(
        f"snippet(search, {col}, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '{SNIPPET_ELLIPSIS}',"
        f" {SNIPPET_TOKENS})"
        for col in (5, -1)
    )
)


def _base_rowid(digest: str) -> int:
    return int(digest[:15], 16)


def fts_rowid(conn: sqlite3.Connection, digest: str) -> int | None:
    """The rowid of an artifact's search row, or None if it has none."""
    base = _base_rowid(digest)
    row = conn.execute(
        "SELECT rowid FROM search WHERE rowid BETWEEN ? AND ? AND hash = ?",
        (base, base + _PROBE - 1, digest),
    ).fetchone()
    return None if row is None else int(row[0])


MAX_INDEXED_PRODUCERS = 200


def _producer_text(producers: Iterable[Sequence[str | None]]) -> str:
    words: dict[str, None] = {}  # insertion-ordered set: linear even for thousands of producers
    for fields in producers:
        for v in fields:
            if v:
                words.setdefault(v)
    return " ".join(words)


def write_row(conn: sqlite3.Connection, digest: str) -> None:
    """Refresh an artifact's search row from the metadata tables (after names or tags change).

    Args:
        conn: a connection inside a write transaction.
        digest: the artifact's hash; it must have a row (made by :func:`insert_row`).
    """
    names = [
        r[0] for r in conn.execute("SELECT DISTINCT name FROM names WHERE hash = ?", (digest,))
    ]
    tags = [
        r[0] for r in conn.execute("SELECT tag FROM tags WHERE hash = ? ORDER BY tag", (digest,))
    ]
    media = conn.execute("SELECT media_type FROM artifacts WHERE hash = ?", (digest,)).fetchone()
    # Content made again and again (the same step output in every run) gathers thousands of
    # producers; the full-text row keeps the first ones' words so a put stays O(1). The
    # producers table keeps every one, and the `producer` filter of search reads it.
    producers = conn.execute(
        "SELECT run, node, extension, model FROM producers WHERE hash = ? ORDER BY rowid LIMIT ?",
        (digest, MAX_INDEXED_PRODUCERS),
    ).fetchall()
    rowid = fts_rowid(conn, digest)
    if rowid is None:
        raise ArtifactError(f"search index: artifact {digest} has no row; rebuild the index")
    conn.execute(
        "UPDATE search SET names = ?, tags = ?, media_type = ?, producer = ? WHERE rowid = ?",
        (" ".join(names), " ".join(tags), media[0], _producer_text(producers), rowid),
    )


def insert_row(
    conn: sqlite3.Connection,
    digest: str,
    *,
    names: Sequence[str],
    tags: Sequence[str],
    media_type: str,
    producers: Sequence[Producer],
    content: str | None,
) -> None:
    """Index a new artifact (inside the write transaction that created its row)."""
    base = _base_rowid(digest)
    taken = {
        r[0]
        for r in conn.execute(
            "SELECT rowid FROM search WHERE rowid BETWEEN ? AND ?", (base, base + _PROBE - 1)
        )
    }
    free = next((base + i for i in range(_PROBE) if base + i not in taken), None)
    if free is None:
        raise ArtifactError(f"search index: no free slot for {digest} (too many collisions)")
    conn.execute(
        "INSERT INTO search(rowid, hash, names, tags, media_type, producer, content)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            free,
            digest,
            " ".join(names),
            " ".join(sorted(tags)),
            media_type,
            _producer_text((p.run, p.node, p.extension, p.model) for p in producers),
            content or "",
        ),
    )


def to_fts_query(text: str, *, prefixes: bool = True) -> str:
    """Turn a user's words into a safe FTS5 query: every word a quoted phrase, all required.

    A word ending in ``*`` becomes a prefix search when at least :data:`MIN_PREFIX` characters
    precede the star; a shorter one (``w1*``) is searched as the word itself, without the
    star, since such a prefix expands to a large part of the vocabulary (measured: 0.5 s on
    50,000 artifacts). Words without a letter or digit (a lone quote, ``*``, ``-``) are
    dropped, since the index could never match them. NUL characters are dropped (FTS5 rejects
    them).
    """
    parts: list[str] = []
    for raw in text.replace("\0", "").split():
        word = raw.rstrip("*")
        prefix = prefixes and raw.endswith("*") and len(word) >= MIN_PREFIX
        if not any(ch.isalnum() for ch in word):
            continue
        parts.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(parts)


def _filters(
    tags: Sequence[str], media_type: str | None, producer: str | None, since: float | None
) -> tuple[str, list[object]]:
    """SQL conditions on ``artifacts a`` for the search filters, and their parameters."""
    sql: list[str] = []
    params: list[object] = []
    for tag in tags:
        sql.append("a.hash IN (SELECT hash FROM tags WHERE tag = ?)")
        params.append(tag)
    if media_type:
        if media_type.endswith("/*"):
            escaped = media_type[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql.append("a.media_type LIKE ? ESCAPE '\\'")
            params.append(escaped + "%")
        else:
            sql.append("a.media_type = ?")
            params.append(media_type)
    if producer:
        sql.append(
            "a.hash IN (SELECT hash FROM producers WHERE run = ? OR node = ?"
            " OR model = ? OR extension = ? OR substr(extension, 1, ?) = ?)"
        )
        params += [producer, producer, producer, producer, len(producer) + 1, producer + "@"]
    if since is not None:
        sql.append("a.created_at >= ?")
        params.append(since)
    return "".join(f" AND {s}" for s in sql), params


def _prefilter(tags: Sequence[str], media_type: str | None, producer: str | None) -> str:
    """FTS5 column filters that keep a superset of what the exact SQL filters keep.

    They let FTS5 drop most non-matching rows before any join with ``artifacts``; the exact
    filters still decide (a tag ``ci`` phrase also matches a tag ``ci-fast``).
    """
    parts = [f"tags : {q}" for q in map(_phrase, tags) if q]
    if media_type:
        kind = _phrase(media_type.removesuffix("/*"))
        parts += [f"media_type : {kind}"] if kind else []
    if producer:
        who = _phrase(producer)
        parts += [f"producer : {who}"] if who else []
    return " ".join(parts)


def _phrase(text: str) -> str:
    return to_fts_query(text.replace("*", " ")).replace('" "', " ")


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    tags: Sequence[str] = (),
    media_type: str | None = None,
    producer: str | None = None,
    since: float | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Search artifacts; see :meth:`ArtifactStore.search`."""
    if limit < 1:
        raise UsageError(f"search limit must be at least 1, not {limit}")
    if media_type in ("*", "*/*"):
        media_type = None
    where, params = _filters(tags, media_type, producer, since)
    fts = to_fts_query(query)
    if not fts:
        rows = conn.execute(
            "SELECT a.hash, 0.0, a.media_type, a.size, a.created_at"
            f" FROM artifacts a WHERE 1{where} ORDER BY a.created_at DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return _hits(conn, [(r[0], 0.0, "") for r in rows])
    if not where:
        return _hits(conn, _ranked(conn, fts, limit, query, snippets=True))
    # Joining every match with ``artifacts`` costs more than ranking it (measured 3x on common
    # words), so: narrow in FTS5 with column prefilters, rank, check the exact filters on the
    # best candidates only, and widen the window when too few pass. The first window is sized
    # by how selective the filters are.
    total, passing = conn.execute(
        "SELECT (SELECT count(*) FROM artifacts),"
        f" (SELECT count(*) FROM artifacts a WHERE 1{where})",
        params,
    ).fetchone()
    if not passing:
        return []
    if passing == total:  # the filters keep everything
        return _hits(conn, _ranked(conn, fts, limit, query, snippets=True))
    prefilter = _prefilter(tags, media_type, producer)
    if passing <= (_RESTRICT_MAX_PREFILTERED if prefilter else _RESTRICT_MAX):
        digests = [
            r[0] for r in conn.execute(f"SELECT a.hash FROM artifacts a WHERE 1{where}", params)
        ]
        return _hits(conn, _restricted(conn, fts, limit, query, digests))
    match = f"{fts} {prefilter}" if prefilter else fts
    window = max(_WINDOW, 4 * limit if prefilter else 2 * limit * total // passing)
    while True:
        candidates = _ranked(conn, match, window, query, snippets=window <= _SNIPPET_WINDOW)
        passed = {
            r[0]
            for r in conn.execute(
                "SELECT a.hash FROM artifacts a WHERE a.hash IN (SELECT value FROM json_each(?))"
                f"{where}",
                [json.dumps([c[0] for c in candidates]), *params],
            )
        }
        hits = [c for c in candidates if c[0] in passed][:limit]
        if len(hits) == limit or len(candidates) < window:
            break
        window *= 8
    if window > _SNIPPET_WINDOW and hits:
        # Snippets for the hits alone, looked up by rowid, and without prefix terms, which
        # FTS5 would expand again for every lookup (a hit matched only by a prefix gets none).
        digests = [h[0] for h in hits]
        exact = to_fts_query(query, prefixes=False)
        found = _ranked(conn, exact, limit, query, snippets=True, among=digests) if exact else []
        snippets = {h: snip for h, _score, snip in found}
        hits = [(h, score, snippets.get(h, "")) for h, score, _none in hits]
    return _hits(conn, hits)


def _restricted(
    conn: sqlite3.Connection, match: str, limit: int, query: str, digests: Sequence[str]
) -> list[tuple[str, float, str]]:
    """:func:`_ranked` among a few artifacts: their search rows joined from a TEMP table.

    The rowids put in the table are derived from the hashes, checked in one join, and looked
    up one by one only for artifacts whose row had to move on a rowid collision. (Restricting
    with ``rowid IN (json_each(...))`` is far slower: 700 ms for 80 artifacts of 50,000.)
    """
    wanted = set(digests)
    # One deferred transaction (or a nested savepoint) around the TEMP table's writes: in
    # autocommit each insert would be a transaction of its own (measured 10x slower). TEMP
    # writes take no lock on the store's database.
    conn.execute("SAVEPOINT search_restrict")
    try:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _pass(id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM _pass")
        conn.executemany(
            "INSERT OR IGNORE INTO _pass(id) VALUES (?)", [(_base_rowid(d),) for d in wanted]
        )
        found = {
            str(r[1]): int(r[0])
            for r in conn.execute(
                "SELECT p.id, s.hash FROM _pass p CROSS JOIN search s ON s.rowid = p.id"
            )
        }
        strays = [(rowid,) for h, rowid in found.items() if h not in wanted]
        conn.executemany("DELETE FROM _pass WHERE id = ?", strays)
        moved = [fts_rowid(conn, d) for d in wanted if d not in found]
        conn.executemany(
            "INSERT OR IGNORE INTO _pass(id) VALUES (?)", [(r,) for r in moved if r is not None]
        )
        try:
            rows = conn.execute(
                f"SELECT s.hash, -{_BM25} AS score, {_SNIPPET} FROM search s"
                " JOIN _pass p ON s.rowid = p.id WHERE search MATCH ?"
                " ORDER BY score DESC LIMIT ?",
                [match, limit],
            ).fetchall()
        except sqlite3.OperationalError as e:
            raise ArtifactError(f"search failed for {query!r}: {e}") from e
        conn.execute("DELETE FROM _pass")
    finally:
        conn.execute("RELEASE search_restrict")
    return [(r[0], float(r[1]), r[2] or "") for r in rows]


def _ranked(
    conn: sqlite3.Connection,
    match: str,
    limit: int,
    query: str,
    *,
    snippets: bool,
    among: Sequence[str] | None = None,
) -> list[tuple[str, float, str]]:
    """(hash, score, snippet) of the best ``limit`` rows matching an FTS5 query, best first.

    Args:
        conn: a connection.
        match: the FTS5 query.
        limit: how many rows at most.
        query: the user's query (for error messages).
        snippets: make snippets. With ``LIMIT``, SQLite computes them only for rows that make
            the cut (measured: +2 ms for 20 of 50,000 matches, +150 ms for 5,000).
        among: only these artifacts (looked up by rowid).
    """
    snippet = _SNIPPET if snippets else "''"
    restrict, params = "", [match]
    if among is not None:
        rowids = [r for r in (fts_rowid(conn, d) for d in among) if r is not None]
        restrict = " AND rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(rowids))
    try:
        rows = conn.execute(
            f"SELECT hash, -{_BM25} AS score, {snippet} FROM search WHERE search MATCH ?"
            f"{restrict} ORDER BY score DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
    except sqlite3.OperationalError as e:
        raise ArtifactError(f"search failed for {query!r}: {e}") from e
    return [(r[0], float(r[1]), r[2] or "") for r in rows]


def _hits(conn: sqlite3.Connection, ranked: list[tuple[str, float, str]]) -> list[SearchHit]:
    """Search hits for (hash, score, snippet) triples, in that order."""
    digests = [r[0] for r in ranked]
    marks = ",".join("?" * len(digests))
    facts = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute(
            f"SELECT hash, media_type, size, created_at FROM artifacts WHERE hash IN ({marks})",
            digests,
        )
    }
    names, tags = names_and_tags(conn, digests)
    return [
        SearchHit(
            hash=h,
            score=score,
            media_type=facts[h][0],
            size=facts[h][1],
            created_at=facts[h][2],
            names=names.get(h, ()),
            tags=tags.get(h, ()),
            snippet=snippet,
        )
        for h, score, snippet in ranked
        if h in facts
    ]


def names_and_tags(
    conn: sqlite3.Connection, digests: Iterable[str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """``name@version`` entries and sorted tags of several artifacts, in two queries."""
    keys = list(digests)
    if not keys:
        return {}, {}
    marks = ",".join("?" * len(keys))
    names: dict[str, list[str]] = {}
    for h, name, version in conn.execute(
        f"SELECT hash, name, version FROM names WHERE hash IN ({marks}) ORDER BY name, version",
        keys,
    ):
        names.setdefault(h, []).append(f"{name}@{version}")
    tags: dict[str, list[str]] = {}
    for h, tag in conn.execute(
        f"SELECT hash, tag FROM tags WHERE hash IN ({marks}) ORDER BY tag", keys
    ):
        tags.setdefault(h, []).append(tag)
    return (
        {h: tuple(v) for h, v in names.items()},
        {h: tuple(v) for h, v in tags.items()},
    )
