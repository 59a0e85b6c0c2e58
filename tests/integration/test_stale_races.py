"""Tiering against concurrent use: a plan applied later re-checks each move, and a put of content
whose move is in flight cancels that move, so the bytes the put confirmed stay readable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts import ArtifactStore, PutItem
from engine.pit.artifacts.models import Tier
from engine.pit.stale import StaleManager, moves

DAY = 86_400.0
DATA = b"build output 42\n" * 100
REPO = Path(__file__).resolve().parents[2]


def _age(store: ArtifactStore, days: float) -> None:
    with store.db.write() as conn:
        conn.execute("UPDATE artifacts SET last_access = ?", (time.time() - days * DAY,))


def _store(tmp_path: Path, cold: bool) -> tuple[ArtifactStore, ArtifactRetention]:
    cold_url = str(tmp_path / "cold") if cold else None
    retention = ArtifactRetention(hot_days=7, warm_days=30, cold_url=cold_url)
    return ArtifactStore(tmp_path / "store", cold_url=cold_url), retention


def _journal(store: ArtifactStore) -> list[Any]:
    return store.db.connection().execute("SELECT * FROM moves").fetchall()


def test_pinned_after_planning_is_skipped(tmp_path: Path) -> None:
    store, retention = _store(tmp_path, cold=False)
    with store:
        digest = store.put_bytes(DATA).hash
        _age(store, 90)
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        assert [(m.src, m.dst) for m in plan] == [(Tier.HOT, Tier.DELETED)]
        store.pin(digest)
        report = manager.apply(plan)
        assert report.moved == () and report.failed == ()
        assert [(m.hash, why) for m, why in report.skipped] == [
            (digest, "pinned since it was planned")
        ]
        assert store.info(digest).tier is Tier.HOT
        assert store.get_bytes(digest) == DATA
        assert store.verify().ok


def test_keep_tag_after_planning_prevents_the_deletion(tmp_path: Path) -> None:
    store, retention = _store(tmp_path, cold=False)
    with store:
        digest = store.put_bytes(DATA).hash
        _age(store, 90)
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        store.tag(digest, "keep")
        report = manager.apply(plan)
        assert report.moved == () and report.failed == ()
        [(_, why)] = report.skipped
        assert "not deleted: protected by tag 'keep'" in why
        assert store.get_bytes(digest) == DATA


def test_named_after_planning_prevents_the_deletion(tmp_path: Path) -> None:
    store, retention = _store(tmp_path, cold=False)
    with store:
        digest = store.put_bytes(DATA).hash
        _age(store, 90)
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        with store.db.write() as conn:  # named without a put (so last_access is unchanged)
            conn.execute(
                "INSERT INTO names(name, version, hash, created_at) VALUES ('r', 1, ?, 0)",
                (digest,),
            )
        [(_, why)] = manager.apply(plan).skipped
        assert "latest version of r@1" in why
        assert store.info(digest).tier is Tier.HOT


@pytest.mark.parametrize(
    ("days", "cold", "dst"),
    [(90, False, Tier.DELETED), (10, False, Tier.WARM), (90, True, Tier.COLD)],
    ids=["delete", "warm", "cold"],
)
def test_put_or_read_after_planning_skips_the_move(
    tmp_path: Path, days: float, cold: bool, dst: Tier
) -> None:
    store, retention = _store(tmp_path, cold=cold)
    with store:
        digest = store.put_bytes(DATA).hash
        other = store.put_bytes(b"read again\n" * 100).hash
        _age(store, days)
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        assert {(m.hash, m.dst) for m in plan} == {(digest, dst), (other, dst)}
        assert store.put_bytes(DATA).hash == digest
        assert store.get_bytes(other)
        report = manager.apply(plan)
        assert report.moved == () and report.failed == ()
        assert {m.hash: why for m, why in report.skipped} == {
            digest: "read or stored again since it was planned",
            other: "read or stored again since it was planned",
        }
        assert [store.info(d).tier for d in (digest, other)] == [Tier.HOT, Tier.HOT]
        assert store.verify().ok


def test_a_second_run_of_the_same_plan_skips_what_the_first_moved(tmp_path: Path) -> None:
    store, retention = _store(tmp_path, cold=True)
    with store:
        digest = store.put_bytes(DATA).hash
        _age(store, 90)
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        assert len(manager.apply(plan).moved) == 1
        report = manager.apply(plan)
        assert report.moved == () and report.failed == ()
        [(_, why)] = report.skipped
        assert "moved by someone else" in why
        assert store.get_bytes(digest) == DATA


CANCEL_CASES = [
    (Tier.HOT, Tier.DELETED, "_switch"),
    (Tier.HOT, Tier.DELETED, "_finish"),
    (Tier.HOT, Tier.WARM, "_switch"),
    (Tier.HOT, Tier.WARM, "_finish"),
    (Tier.HOT, Tier.COLD, "_switch"),
    (Tier.HOT, Tier.COLD, "_finish"),
    (Tier.WARM, Tier.COLD, "_switch"),
    (Tier.WARM, Tier.COLD, "_finish"),
    (Tier.WARM, Tier.DELETED, "_finish"),
]


@pytest.mark.parametrize(
    ("src", "dst", "step"), CANCEL_CASES, ids=[f"{s}-{d}-before{p}" for s, d, p in CANCEL_CASES]
)
def test_a_put_during_a_move_cancels_it_and_keeps_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, src: Tier, dst: Tier, step: str
) -> None:
    store, _ = _store(tmp_path, cold=True)
    with store:
        digest = store.put_bytes(DATA).hash
        if src is Tier.WARM:
            moves.move(store.db, store.tiers(), digest, Tier.HOT, Tier.WARM)
        writer = ArtifactStore(tmp_path / "store", cold_url=store.cold_url)  # its own connection
        puts: list[Tier] = []
        original = getattr(moves, step)

        def put_first(*args: Any) -> Any:
            info = writer.put_bytes(DATA, name="fresh-output")
            puts.append(info.tier)
            return original(*args)

        monkeypatch.setattr(moves, step, put_first)
        with pytest.raises(moves.MoveSkipped, match="stored again"):
            moves.move(store.db, store.tiers(), digest, src, dst)
        monkeypatch.undo()
        assert puts == [Tier.HOT]
        info = store.info(digest)
        assert (info.tier, info.stored_size) == (Tier.HOT, len(DATA))
        assert store.get_bytes("fresh-output") == DATA
        assert _journal(store) == []
        assert not store.tiers().exists(digest, Tier.COLD)
        if dst is Tier.WARM:
            assert not store.tiers().exists(digest, Tier.WARM)
        report = store.verify()
        assert report.ok, report.problems
        writer.close()


_TIER = """
import sys, time
from pathlib import Path
from engine.config.models import ArtifactRetention
from engine.pit.artifacts import ArtifactStore
from engine.pit.stale import StaleManager
root = Path(sys.argv[1])
with ArtifactStore(root) as store:
    manager = StaleManager(store.db, store.tiers(), ArtifactRetention(cold_url=None))
    plan = manager.plan()
    (root / "go").touch()
    report = manager.apply(plan)
    print(len(plan), len(report.moved), len(report.skipped), len(report.failed))
"""

_WRITE = """
import json, sys, time
from pathlib import Path
from engine.pit.artifacts import ArtifactStore
root, n = Path(sys.argv[1]), int(sys.argv[2])
end = time.time() + 20
while not (root / "go").exists() and time.time() < end:
    time.sleep(0.001)
ok = []
with ArtifactStore(root) as store:
    for i in range(n):
        ok.append(store.put_bytes(f"step output {i}\\n".encode(), name=f"out-{i}").hash)
print(json.dumps(ok))
"""


def test_re_puts_racing_a_tier_run_in_another_process_stay_readable(tmp_path: Path) -> None:
    n = 600
    root = tmp_path / "store"
    with ArtifactStore(root) as store:
        store.put_many(PutItem(data=f"step output {i}\n".encode()) for i in range(n))
        _age(store, 90)
    args = [str(root)]
    tier = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_TIER), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    write = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WRITE), *args, str(n)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    tier_out, _ = tier.communicate(timeout=60)
    write_out, _ = write.communicate(timeout=60)
    assert tier.returncode == 0 and write.returncode == 0
    planned, moved, skipped, failed = map(int, tier_out.split())
    assert (planned, failed) == (n, 0)
    assert moved + skipped == n
    ok: list[str] = json.loads(write_out)
    assert len(ok) == n
    with ArtifactStore(root) as store:
        for i, digest in enumerate(ok):
            assert store.info(digest).tier is Tier.HOT
            assert store.get_bytes(digest) == f"step output {i}\n".encode()
        report = store.verify()
        assert report.ok, report.problems
        assert _journal(store) == []
