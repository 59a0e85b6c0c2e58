"""The tiering policy: age rules, protection, budget by value score, precise reasons, dry run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts.db import Database
from engine.pit.artifacts.models import Tier
from engine.pit.stale import StaleManager, TierStorage, plan, value_score
from tests.stale_support import DAY, add_blob, add_row, dump, fake_hash, open_db, tree

NOW = 1_800_000_000.0
MIB = 1 << 20


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "store")
    yield database
    database.close()


def _retention(**overrides: object) -> ArtifactRetention:
    values: dict[str, object] = {"hot_days": 7, "warm_days": 30, "budget_mb": 1024}
    values.update(overrides)
    return ArtifactRetention(**values)  # type: ignore[arg-type]


def _moves(db: Database, **overrides: object) -> dict[str, tuple[Tier, Tier, str]]:
    return {m.hash: (m.src, m.dst, m.reason) for m in plan(db, _retention(**overrides), NOW)}


def test_age_rules_with_a_fixed_now(db: Database) -> None:
    a, b, c, d, e = (fake_hash(i) for i in range(5))
    add_row(db, a, last_access=NOW - 3 * DAY)  # hot, recent: stays
    add_row(db, b, last_access=NOW - 12 * DAY)  # hot, idle past hot_days: warm
    add_row(db, c, tier=Tier.WARM, last_access=NOW - 12 * DAY)  # warm, not yet warm_days
    add_row(db, d, tier=Tier.WARM, last_access=NOW - 31.5 * DAY)  # warm past warm_days
    add_row(db, e, last_access=NOW - 45 * DAY)  # hot past warm_days: straight out
    with_cold = _moves(db, cold_url="memory://cold")
    assert with_cold == {
        b: (Tier.HOT, Tier.WARM, "not read for 12 days (hot_days = 7)"),
        d: (Tier.WARM, Tier.COLD, "not read for 31.5 days (warm_days = 30)"),
        e: (Tier.HOT, Tier.COLD, "not read for 45 days (warm_days = 30)"),
    }
    without = _moves(db)
    assert without[d] == (
        Tier.WARM,
        Tier.DELETED,
        "not read for 31.5 days (warm_days = 30); no cold_url, so deleted",
    )
    assert without[e][1] is Tier.DELETED
    assert without[b] == with_cold[b]


def test_cold_and_deleted_artifacts_are_left_alone(db: Database) -> None:
    add_row(db, fake_hash(1), tier=Tier.COLD, last_access=NOW - 400 * DAY)
    add_row(db, fake_hash(2), tier=Tier.DELETED, stored_size=0, last_access=NOW - 400 * DAY)
    assert _moves(db) == {}


def test_pinned_never_moves_even_when_old_or_over_budget(db: Database) -> None:
    pinned = add_row(db, fake_hash(1), size=5 * MIB, pinned=True, last_access=NOW - 400 * DAY)
    add_row(db, fake_hash(2), tier=Tier.WARM, pinned=True, last_access=NOW - 400 * DAY)
    assert _moves(db, budget_mb=1) == {}
    assert _moves(db, budget_mb=1, cold_url="memory://c") == {}
    assert pinned not in _moves(db, hot_days=0, warm_days=0)


def test_protected_artifacts_are_demoted_but_never_deleted(db: Database) -> None:
    old = NOW - 90 * DAY
    tagged = add_row(db, fake_hash(1), tags=("keep",), last_access=old)
    tagged_warm = add_row(db, fake_hash(2), tier=Tier.WARM, tags=("keep",), last_access=old)
    parent = add_row(db, fake_hash(3), tier=Tier.WARM, last_access=old)
    child = add_row(db, fake_hash(4), last_access=NOW)
    latest = add_row(db, fake_hash(5), tier=Tier.WARM, last_access=old)
    older = add_row(db, fake_hash(6), tier=Tier.WARM, last_access=old)
    orphan_parent = add_row(db, fake_hash(7), tier=Tier.WARM, last_access=old)
    dead_child = add_row(db, fake_hash(8), tier=Tier.DELETED, stored_size=0, last_access=old)
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO edges (parent, child) VALUES (?, ?)",
            [(parent, child), (orphan_parent, dead_child)],
        )
        conn.executemany(
            "INSERT INTO names (name, version, hash, created_at) VALUES (?, ?, ?, ?)",
            [("report", 1, older, old), ("report", 2, latest, old)],
        )
    moves = _moves(db)
    # Without a cold tier the only way out is deletion, which protection forbids.
    assert moves[tagged] == (
        Tier.HOT,
        Tier.WARM,
        "not read for 90 days (warm_days = 30); kept on local disk:"
        " protected by tag 'keep' (keep_tags)",
    )
    for digest in (tagged_warm, parent, latest):
        assert digest not in moves
    assert moves[older][1] is Tier.DELETED  # an old version is not protected
    assert moves[orphan_parent][1] is Tier.DELETED  # its only child is deleted
    # With a cold tier protected artifacts go cold like the others.
    cold = _moves(db, cold_url="memory://c")
    for digest in (tagged, tagged_warm, parent, latest, older, orphan_parent):
        assert cold[digest][1] is Tier.COLD
    # keep_tags is configurable: without "keep" in it, the tag protects nothing.
    assert _moves(db, keep_tags=["important"])[tagged_warm][1] is Tier.DELETED


def test_budget_demotes_by_ascending_value_score(db: Database) -> None:
    recent = NOW - 1 * DAY
    # Four 1 MiB text artifacts, 4 MiB local against a 2 MiB budget; none is old enough to age.
    specs = {
        "a": (0, NOW - 5 * DAY),  # never read, 5 days: lowest score
        "b": (10, NOW - 1 * DAY),
        "c": (2, NOW - 2 * DAY),
        "d": (50, recent),  # the most valuable
    }
    digests = {}
    for i, (name, (reads, last)) in enumerate(specs.items()):
        digests[name] = add_row(
            db,
            fake_hash(i),
            size=MIB,
            media_type="text/plain",
            access_count=reads,
            last_access=last,
        )
    planned = plan(db, _retention(budget_mb=2), NOW)
    # Text is expected to shrink to 30 %, so three demotions bring 4 MiB to 1.9 MiB.
    assert [m.hash for m in planned] == [digests["a"], digests["c"], digests["b"]]
    assert all((m.src, m.dst, m.size) == (Tier.HOT, Tier.WARM, MIB) for m in planned)
    score_a = value_score(access_count=0, last_access=NOW - 5 * DAY, size=MIB, now=NOW)
    assert planned[0].reason == (
        f"over budget: local store 4.0 MiB > 2.0 MiB (budget_mb = 2), lowest value score"
        f" {score_a:.3g} (0 reads, last 5 days ago, 1.0 MiB)"
    )
    assert planned[1].reason.startswith("over budget: local store 3.3 MiB > 2.0 MiB")
    scores = [
        value_score(access_count=r, last_access=t, size=MIB, now=NOW) for r, t in specs.values()
    ]
    assert scores[0] < scores[2] < scores[1] < scores[3]


def test_budget_moves_incompressible_and_warm_artifacts_out(db: Database) -> None:
    images = [
        add_row(db, fake_hash(i), size=MIB, media_type="image/png", last_access=NOW - i * DAY / 4)
        for i in range(4)
    ]
    warm = add_row(db, fake_hash(9), tier=Tier.WARM, size=4 * MIB, stored_size=MIB,
                   last_access=NOW - 6 * DAY)  # fmt: skip
    keep = add_row(db, fake_hash(10), size=MIB, media_type="image/png", tags=("keep",),
                   last_access=NOW - 6 * DAY)  # fmt: skip
    # 6 MiB local, 3 MiB budget: compressing PNGs saves nothing, so the lowest scores leave.
    to_cold = plan(db, _retention(budget_mb=3, cold_url="memory://c"), NOW)
    # Scores: warm 0.0119 (4 MiB original) < keep 0.0143 < images[3] 0.057 < images[2] …
    assert [(m.hash, m.dst) for m in to_cold] == [
        (warm, Tier.COLD),
        (keep, Tier.COLD),
        (images[3], Tier.COLD),
    ]
    # Without a cold tier, protected artifacts stay and the next lowest go instead.
    deleted = plan(db, _retention(budget_mb=3), NOW)
    assert [(m.hash, m.dst) for m in deleted] == [
        (warm, Tier.DELETED),
        (images[3], Tier.DELETED),
        (images[2], Tier.DELETED),
    ]
    assert deleted[0].reason.endswith("; no cold_url, so deleted")


def test_age_moves_count_against_the_budget_and_each_artifact_moves_once(db: Database) -> None:
    old = add_row(db, fake_hash(1), size=3 * MIB, media_type="image/png",
                  last_access=NOW - 40 * DAY)  # fmt: skip
    add_row(db, fake_hash(2), size=MIB, media_type="image/png", last_access=NOW)
    planned = plan(db, _retention(budget_mb=2, cold_url="memory://c"), NOW)
    # Its age move alone brings 4 MiB under 2 MiB: no budget move, and it is planned once.
    assert [(m.hash, m.dst, m.reason) for m in planned] == [
        (old, Tier.COLD, "not read for 40 days (warm_days = 30)")
    ]


def test_plan_is_deterministic_and_skips_moves_in_flight(db: Database) -> None:
    for i in range(20):
        add_row(db, fake_hash(i), size=MIB, last_access=NOW - 10 * DAY)
    first = plan(db, _retention(budget_mb=5), NOW)
    assert first == plan(db, _retention(budget_mb=5), NOW)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO moves (hash, from_tier, to_tier, started_at) VALUES (?, 'hot', 'warm', 0)",
            (fake_hash(3),),
        )
    assert fake_hash(3) not in {m.hash for m in plan(db, _retention(budget_mb=5), NOW)}


def test_dry_run_plan_changes_nothing(tmp_path: Path, db: Database) -> None:
    root = tmp_path / "store"
    for i in range(5):
        add_blob(db, root, f"artifact {i} ".encode() * 1000, last_access=NOW - i * 10 * DAY)
    before_db, before_files = dump(db), tree(root)
    manager = StaleManager(db, TierStorage(root, None), _retention(budget_mb=1))
    planned = manager.plan(now=NOW)
    assert planned, "the scenario must want moves, or the test proves nothing"
    assert dump(db) == before_db
    assert tree(root) == before_files


def test_value_score_formula() -> None:
    # score = (1 + reads) / (1 + age_days) / log2(2 + size_kib)
    assert value_score(access_count=3, last_access=NOW - DAY, size=2048, now=NOW) == 4 / 2 / 2
    recent = value_score(access_count=0, last_access=NOW, size=1024, now=NOW)
    older = value_score(access_count=0, last_access=NOW - DAY, size=1024, now=NOW)
    bigger = value_score(access_count=0, last_access=NOW, size=1 << 30, now=NOW)
    popular = value_score(access_count=9, last_access=NOW, size=1024, now=NOW)
    assert older < recent and bigger < recent < popular
