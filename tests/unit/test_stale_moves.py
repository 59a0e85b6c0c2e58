"""Tier moves, journal recovery and the manager's apply/rehydrate, on real folders and SQLite."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts import layout
from engine.pit.artifacts.db import Database
from engine.pit.artifacts.models import Tier
from engine.pit.stale import PlannedMove, StaleManager, TierStorage, move, recover
from engine.types.errors import ArtifactError
from tests.stale_support import DAY, add_blob, memory_url, open_db


@pytest.fixture(params=["folder", "memory"])
def cold_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "folder":
        yield str(tmp_path / "cold")
    else:
        yield from memory_url()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def db(root: Path) -> Iterator[Database]:
    database = open_db(root)
    yield database
    database.close()


def _row(db: Database, digest: str) -> tuple[str, int]:
    r = (
        db.connection()
        .execute("SELECT tier, stored_size FROM artifacts WHERE hash = ?", (digest,))
        .fetchone()
    )
    return r["tier"], r["stored_size"]


def _journal(db: Database) -> list[tuple[str, str, str]]:
    rows = db.connection().execute("SELECT hash, from_tier, to_tier FROM moves").fetchall()
    return [tuple(r) for r in rows]


def _copies(tiers: TierStorage, digest: str) -> list[Tier]:
    return [t for t in (Tier.HOT, Tier.WARM, Tier.COLD) if tiers.exists(digest, t)]


def test_move_through_every_tier_updates_metadata_and_removes_the_source(
    root: Path, db: Database, cold_url: str
) -> None:
    data = b"some text\n" * 10_000
    digest = add_blob(db, root, data)
    tiers = TierStorage(root, cold_url)
    for src, dst in ((Tier.HOT, Tier.WARM), (Tier.WARM, Tier.COLD), (Tier.COLD, Tier.HOT)):
        size = move(db, tiers, digest, src, dst)
        assert _row(db, digest) == (dst.value, size)
        assert size == tiers.stored_size(digest, dst)
        assert _copies(tiers, digest) == [dst]
        assert _journal(db) == []
        with tiers.open(digest, dst) as f:
            assert f.read() == data
    assert not list((root / "moving").iterdir()), "per-move lock files are removed"


def test_move_to_deleted_drops_the_bytes_but_keeps_metadata(root: Path, db: Database) -> None:
    digest = add_blob(db, root, b"short-lived")
    tiers = TierStorage(root, None)
    assert move(db, tiers, digest, Tier.HOT, Tier.DELETED) == 0
    assert _row(db, digest) == ("deleted", 0)
    assert _copies(tiers, digest) == []


def test_move_from_the_wrong_tier_is_refused_and_already_there_is_a_no_op(
    root: Path, db: Database
) -> None:
    digest = add_blob(db, root, b"abc" * 100)
    tiers = TierStorage(root, None)
    with pytest.raises(ArtifactError, match="the artifact is hot"):
        move(db, tiers, digest, Tier.WARM, Tier.COLD)
    size = move(db, tiers, digest, Tier.HOT, Tier.WARM)
    assert move(db, tiers, digest, Tier.HOT, Tier.WARM) == size  # a second mover: no-op
    with pytest.raises(ArtifactError, match="no such artifact"):
        move(db, tiers, "0" * 64, Tier.HOT, Tier.WARM)
    assert _journal(db) == []


def test_failed_copy_leaves_the_artifact_where_it_was(root: Path, db: Database) -> None:
    digest = add_blob(db, root, b"precious")
    layout.hot_path(root, digest).write_bytes(b"rotten!!")  # the copy cannot verify
    tiers = TierStorage(root, None)
    with pytest.raises(ArtifactError, match="does not verify"):
        move(db, tiers, digest, Tier.HOT, Tier.WARM)
    assert _row(db, digest)[0] == "hot"
    assert _copies(tiers, digest) == [Tier.HOT]
    assert _journal(db) == []


def _journal_move(db: Database, digest: str, src: Tier, dst: Tier) -> None:
    with db.write() as conn:
        conn.execute(
            "INSERT INTO moves (hash, from_tier, to_tier, started_at) VALUES (?, ?, ?, ?)",
            (digest, src.value, dst.value, time.time()),
        )


def test_recover_finishes_a_move_whose_copy_verified(
    root: Path, db: Database, cold_url: str
) -> None:
    data = os.urandom(50_000)
    digest = add_blob(db, root, data)
    tiers = TierStorage(root, cold_url)
    _journal_move(db, digest, Tier.HOT, Tier.COLD)
    tiers.copy(digest, Tier.HOT, Tier.COLD)  # crash right after the verified copy
    [line] = recover(db, tiers)
    assert "finished" in line and digest[:12] in line
    assert _row(db, digest) == ("cold", len(data))
    assert _copies(tiers, digest) == [Tier.COLD]
    assert _journal(db) == []


def test_recover_undoes_a_move_with_a_partial_copy(root: Path, db: Database) -> None:
    digest = add_blob(db, root, b"x" * 5000)
    tiers = TierStorage(root, None)
    _journal_move(db, digest, Tier.HOT, Tier.WARM)
    warm = layout.warm_path(root, digest)
    warm.parent.mkdir(parents=True)
    warm.write_bytes(b"\x28\xb5\x2f\xfd truncated")  # a broken zstd file
    [line] = recover(db, tiers)
    assert "undone" in line
    assert _row(db, digest)[0] == "hot"
    assert _copies(tiers, digest) == [Tier.HOT]
    assert _journal(db) == []


def test_recover_removes_the_leftover_source_after_the_switch(root: Path, db: Database) -> None:
    digest = add_blob(db, root, b"y" * 5000)
    tiers = TierStorage(root, None)
    _journal_move(db, digest, Tier.HOT, Tier.WARM)
    size = tiers.copy(digest, Tier.HOT, Tier.WARM)
    with db.write() as conn:  # crash after the metadata switch, before removing the source
        conn.execute("UPDATE artifacts SET tier = 'warm', stored_size = ?", (size,))
    [line] = recover(db, tiers)
    assert "removed the old hot copy" in line
    assert _copies(tiers, digest) == [Tier.WARM]
    assert _row(db, digest) == ("warm", size)


def test_recover_leaves_a_move_that_is_still_running_alone(root: Path, db: Database) -> None:
    from engine.pit.stale.moves import _digest_lock

    digest = add_blob(db, root, b"z" * 5000)
    tiers = TierStorage(root, None)
    _journal_move(db, digest, Tier.HOT, Tier.WARM)
    tiers.copy(digest, Tier.HOT, Tier.WARM)
    with _digest_lock(root, digest, blocking=True):  # as a live mover holds it
        assert recover(db, tiers) == []
        assert _journal(db) == [(digest, "hot", "warm")]
    assert len(recover(db, tiers)) == 1
    assert _journal(db) == []


def test_a_move_recovers_its_own_crashed_journal_row_first(root: Path, db: Database) -> None:
    digest = add_blob(db, root, b"w" * 5000)
    tiers = TierStorage(root, None)
    _journal_move(db, digest, Tier.HOT, Tier.WARM)  # a crashed mover's row, no copy written
    move(db, tiers, digest, Tier.HOT, Tier.WARM)
    assert _row(db, digest)[0] == "warm"
    assert _journal(db) == []


def test_manager_applies_continues_past_failures_and_reports(root: Path, db: Database) -> None:
    now = time.time()
    old = now - 10 * DAY
    good = add_blob(db, root, b"compress me " * 20_000, last_access=old)
    bad = add_blob(db, root, os.urandom(1000), last_access=old)
    layout.hot_path(root, bad).write_bytes(b"corrupted")
    fresh = add_blob(db, root, b"recent", last_access=now)
    retention = ArtifactRetention(hot_days=7, warm_days=30)
    manager = StaleManager(db, TierStorage(root, None), retention)
    planned = manager.plan(now=now)
    assert {m.hash for m in planned} == {good, bad}
    seen: list[tuple[int, int]] = []
    report = manager.apply(planned, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    assert [m.hash for m in report.moved] == [good]
    [(failed, why)] = report.failed
    assert failed.hash == bad and "does not verify" in why
    warm_size = _row(db, good)[1]
    assert report.freed_local_bytes == len(b"compress me " * 20_000) - warm_size
    assert _row(db, bad)[0] == "hot" and _row(db, fresh)[0] == "hot"


def test_manager_rehydrates_to_hot(root: Path, db: Database, cold_url: str) -> None:
    data = b"back again " * 1000
    digest = add_blob(db, root, data)
    tiers = TierStorage(root, cold_url)
    manager = StaleManager(db, tiers, ArtifactRetention(cold_url=cold_url))
    report = manager.apply(
        [PlannedMove(hash=digest, src=Tier.HOT, dst=Tier.COLD, size=len(data), reason="test")]
    )
    assert report.freed_local_bytes == len(data)
    manager.rehydrate(digest)
    manager.rehydrate(digest)  # already hot: nothing to do
    assert _row(db, digest) == ("hot", len(data))
    assert hashlib.sha256(layout.hot_path(root, digest).read_bytes()).hexdigest() == digest
    assert _copies(tiers, digest) == [Tier.HOT]
    move(db, tiers, digest, Tier.HOT, Tier.DELETED)
    with pytest.raises(ArtifactError, match="deleted"):
        manager.rehydrate(digest)
