"""The write path of the artifact store: one put, or a batch of small puts.

Each put streams its content into a locked temp file (hashing it on the way), decides the media
type and the text to index, then in one ``BEGIN IMMEDIATE`` transaction renames the blob into
place (or drops it when identical content is already stored) and records the rows. Inputs are
resolved before any byte is written, so a put naming an unknown input writes nothing.

This module must not read artifacts or decide tiering.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from engine.pit.artifacts import blobs, catalog, media, search
from engine.pit.artifacts.models import ArtifactInfo, Producer

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from engine.pit.artifacts.db import Database

BATCH = 256  # put_many: temp files (and their descriptors) held open per transaction


class PutItem(msgspec.Struct, frozen=True, kw_only=True):
    """One artifact of :meth:`ArtifactStore.put_many` (same meaning as ``put_bytes``)."""

    data: bytes
    name: str | None = None
    tags: tuple[str, ...] = ()
    media_type: str | None = None
    producer: Producer | None = None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    """What a put records besides the bytes (validated, inputs resolved to hashes)."""

    name: str | None
    tags: tuple[str, ...]
    media_type: str | None
    producer: Producer | None
    parents: tuple[str, ...]


def options(
    db: Database,
    *,
    name: str | None,
    tags: Sequence[str],
    media_type: str | None,
    producer: Producer | None,
    inputs: Sequence[str],
) -> Options:
    """Validate a put's arguments and resolve its inputs (UsageError before any write)."""
    if name is not None:
        catalog.check_name(name)
    conn = db.connection()
    return Options(
        name=name,
        tags=catalog.check_tags(tags),
        media_type=media_type,
        producer=producer,
        parents=tuple(catalog.resolve(conn, ref) for ref in inputs),
    )


@dataclass
class _Prepared:
    temp: blobs.TempBlob
    media_type: str
    content: str | None


def _prepare(
    root: Path,
    chunks: Iterable[bytes],
    name_hint: str | None,
    media_type: str | None,
    index_text_bytes: int,
    *,
    sync: bool,
) -> _Prepared:
    """Write the temp blob; decide its media type and the text to index."""
    head_bytes = max(index_text_bytes, media.SNIFF_BYTES)
    temp = blobs.write_temp(root, chunks, head_bytes=head_bytes, sync=sync)
    complete = temp.size <= len(temp.head)
    kind = media_type or media.guess(name_hint, temp.head, complete=complete)
    content = None
    if index_text_bytes and media.is_text(kind):
        content = temp.head[:index_text_bytes].decode("utf-8", "replace")
    return _Prepared(temp, kind, content)


def _record(
    db: Database, prepared: _Prepared, opts: Options, now: float, *, index: bool = True
) -> bool:
    """Record one put; returns whether the artifact is new."""
    previous = catalog.record_put(
        db.connection(),
        digest=prepared.temp.digest,
        size=prepared.temp.size,
        media_type=prepared.media_type,
        now=now,
        name=opts.name,
        tags=opts.tags,
        producer=opts.producer,
        inputs=opts.parents,
        content=prepared.content,
        index=index,
    )
    return previous is None


@dataclass
class _Index:
    """Search row of an artifact new in this batch, gathered from all its puts."""

    media_type: str
    content: str | None
    names: list[str]
    tags: list[str]
    producers: list[Producer]

    def add(self, opts: Options) -> None:
        if opts.name is not None and opts.name not in self.names:
            self.names.append(opts.name)
        self.tags += [t for t in opts.tags if t not in self.tags]
        if opts.producer is not None and opts.producer not in self.producers:
            self.producers.append(opts.producer)


def _index_batch(db: Database, rows: dict[str, _Index | None]) -> None:
    """Write the batch's search rows in rowid order (new rows inserted, others refreshed)."""
    conn = db.connection()
    for digest in sorted(rows):  # hex order is rowid order: FTS5 appends instead of flushing
        row = rows[digest]
        if row is None:
            search.write_row(conn, digest)
        else:
            search.insert_row(
                conn,
                digest,
                names=row.names,
                tags=row.tags,
                media_type=row.media_type,
                producers=row.producers,
                content=row.content,
            )


def put(
    db: Database,
    root: Path,
    chunks: Iterable[bytes],
    opts: Options,
    *,
    name_hint: str | None,
    index_text_bytes: int,
) -> ArtifactInfo:
    """Store one artifact (fsync of the blob and of its shard folder before the commit)."""
    prepared = _prepare(root, chunks, name_hint, opts.media_type, index_text_bytes, sync=True)
    try:
        with db.write() as conn:
            blobs.place(root, prepared.temp)
            _record(db, prepared, opts, time.time())
            return catalog.info(conn, prepared.temp.digest)
    finally:
        prepared.temp.release()


def put_many(
    db: Database, root: Path, items: Iterable[PutItem], *, index_text_bytes: int
) -> list[str]:
    """Store many small artifacts, :data:`BATCH` per transaction; returns their hashes."""
    digests: list[str] = []
    batch: list[PutItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            digests += _put_batch(db, root, batch, index_text_bytes)
            batch = []
    if batch:
        digests += _put_batch(db, root, batch, index_text_bytes)
    return digests


def _put_batch(db: Database, root: Path, items: list[PutItem], index_text_bytes: int) -> list[str]:
    opts = [
        options(
            db,
            name=i.name,
            tags=i.tags,
            media_type=i.media_type,
            producer=i.producer,
            inputs=i.inputs,
        )
        for i in items
    ]
    prepared: list[_Prepared] = []
    try:
        for item, opt in zip(items, opts, strict=True):
            prepared.append(
                _prepare(root, [item.data], item.name, opt.media_type, index_text_bytes, sync=False)
            )
        with db.write():
            for p in prepared:
                blobs.place(root, p.temp, sync=False)
            # One sync() makes every blob and shard folder durable before any row points at
            # them: far cheaper than an fsync per small file.
            os.sync()
            now = time.time()
            rows: dict[str, _Index | None] = {}
            for p, opt in zip(prepared, opts, strict=True):
                digest = p.temp.digest
                created = _record(db, p, opt, now, index=False)
                if created:
                    rows[digest] = _Index(p.media_type, p.content, [], [], [])
                elif digest not in rows:
                    rows[digest] = None
                row = rows[digest]
                if row is not None:
                    row.add(opt)
            _index_batch(db, rows)
    finally:
        for p in prepared:
            p.temp.release()
    return [p.temp.digest for p in prepared]
