"""The extension database (registry, audit log, call metrics) and the lifecycle table."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extensions.lifecycle import TRANSITIONS, State, can_move
from engine.extensions.store import (
    SCHEMA_VERSION,
    AuditRecord,
    CallStats,
    ExtensionsDB,
    percentile,
)
from engine.types.errors import ExtensionError

WS = "/work/ws"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "symphony" / "extensions.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[ExtensionsDB]:
    store = ExtensionsDB(db_path)
    yield store
    store.close()


def record(
    extension: str = "acme.lint",
    target: str = "a.toml",
    decision: str = "allowed",
    permission: str = "fs.read",
) -> AuditRecord:
    return AuditRecord(
        ts=time.time(),
        workspace=WS,
        extension=extension,
        permission=permission,
        target=target,
        decision=decision,
        detail="" if decision == "allowed" else "nothing granted",
    )


# --- opening --------------------------------------------------------------------------------------


def test_creates_file_and_schema(db: ExtensionsDB, db_path: Path) -> None:
    assert db_path.is_file()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"extensions", "audit", "calls"} <= tables
    assert db.registry() == {}
    assert db.audit() == []


def test_reopen_keeps_data(db_path: Path) -> None:
    first = ExtensionsDB(db_path)
    first.pin("acme.lint", source="folder", path="/x", version="1.0.0", digest="aa")
    first.close()
    second = ExtensionsDB(db_path)
    try:
        assert set(second.registry()) == {"acme.lint"}
    finally:
        second.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(ExtensionError) as info:
        ExtensionsDB(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert "upgrade Symphony" in message


def test_not_a_database_is_an_extension_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(ExtensionError) as info:
        ExtensionsDB(db_path)
    assert str(db_path) in str(info.value)


def test_closed_database(db_path: Path) -> None:
    store = ExtensionsDB(db_path)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(ExtensionError, match="closed"):
        store.registry()
    store.add_audit([record()])  # dropped silently once closed


# --- registry -------------------------------------------------------------------------------------


def test_pin_then_registry(db: ExtensionsDB) -> None:
    before = time.time()
    db.pin("acme.lint", source="folder", path="/exts/lint", version="1.0.0", digest="abc123")
    rows = db.registry()
    assert set(rows) == {"acme.lint"}
    row = rows["acme.lint"]
    assert row.id == "acme.lint"
    assert row.source == "folder"
    assert row.path == "/exts/lint"
    assert row.version == "1.0.0"
    assert row.manifest_hash == "abc123"
    assert row.enabled is True
    assert before - 1 <= row.pinned_at <= time.time() + 1


def test_repin_updates_hash_and_keeps_disabled(db: ExtensionsDB) -> None:
    db.pin("acme.lint", source="folder", path="/exts/lint", version="1.0.0", digest="old")
    db.set_enabled("acme.lint", False)
    first = db.registry()["acme.lint"]
    assert first.enabled is False
    db.pin("acme.lint", source="entry_point", path="/site/lint", version="1.1.0", digest="new")
    row = db.registry()["acme.lint"]
    assert row.manifest_hash == "new"
    assert row.version == "1.1.0"
    assert row.source == "entry_point"
    assert row.path == "/site/lint"
    assert row.enabled is False
    assert row.pinned_at >= first.pinned_at
    db.set_enabled("acme.lint", True)
    assert db.registry()["acme.lint"].enabled is True


def test_set_enabled_unknown_is_noop(db: ExtensionsDB) -> None:
    db.set_enabled("nobody", False)
    assert db.registry() == {}


def test_several_extensions(db: ExtensionsDB) -> None:
    for ext in ("a.one", "b.two", "c.three"):
        db.pin(ext, source="builtin", path=f"/{ext}", version="0.1.0", digest=ext)
    db.set_enabled("b.two", False)
    rows = db.registry()
    assert {k: v.enabled for k, v in rows.items()} == {
        "a.one": True,
        "b.two": False,
        "c.three": True,
    }


# --- audit ----------------------------------------------------------------------------------------


def test_audit_batch_and_filters(db: ExtensionsDB) -> None:
    db.add_audit([])  # nothing to write
    db.add_audit(
        [
            record("acme.lint", "1"),
            record("acme.lint", "2", "denied"),
            record("other.ext", "3"),
        ]
    )
    db.add_audit([record("acme.lint", "4"), record("other.ext", "5", "denied")])
    everything = db.audit()
    assert [r.target for r in everything] == ["1", "2", "3", "4", "5"]
    assert everything[1] == AuditRecord(
        ts=everything[1].ts,
        workspace=WS,
        extension="acme.lint",
        permission="fs.read",
        target="2",
        decision="denied",
        detail="nothing granted",
    )
    assert [r.target for r in db.audit("acme.lint")] == ["1", "2", "4"]
    assert [r.target for r in db.audit(denied_only=True)] == ["2", "5"]
    assert [r.target for r in db.audit("other.ext", denied_only=True)] == ["5"]
    assert db.audit("nobody") == []


def test_audit_limit_returns_newest_oldest_first(db: ExtensionsDB) -> None:
    db.add_audit([record(target=str(i)) for i in range(10)])
    assert [r.target for r in db.audit(limit=3)] == ["7", "8", "9"]
    assert [r.target for r in db.audit(limit=1)] == ["9"]
    assert len(db.audit(limit=100)) == 10
    assert len(db.audit()) == 10
    db.add_audit([record(target=str(i), decision="denied") for i in range(10, 14)])
    assert [r.target for r in db.audit(denied_only=True, limit=2)] == ["12", "13"]


def test_audit_default_limit_is_50(db: ExtensionsDB) -> None:
    db.add_audit([record(target=str(i)) for i in range(60)])
    got = db.audit()
    assert len(got) == 50
    assert got[0].target == "10"
    assert got[-1].target == "59"


# --- calls ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 99, 7.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0], 51, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 75, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([float(i) for i in range(1, 11)], 95, 10.0),
        ([float(i) for i in range(1, 101)], 95, 95.0),
        ([float(i) for i in range(1, 101)], 99, 99.0),
        ([1.0, 2.0, 3.0], 0, 1.0),
    ],
)
def test_percentile_nearest_rank(values: list[float], pct: float, expected: float | None) -> None:
    assert percentile(values, pct) == expected


def test_call_stats(db: ExtensionsDB) -> None:
    assert db.call_stats("acme.lint") == CallStats(0, 0, None, None, None)
    # Inserted out of order: percentiles sort them.
    durations = [float(d) for d in range(100, 0, -1)]
    for i, duration in enumerate(durations):
        db.add_call(
            workspace=WS,
            extension="acme.lint",
            step_type="acme.lint.run",
            duration_ms=duration,
            ok=i % 10 != 0,
            error="" if i % 10 else "boom",
        )
    db.add_call(workspace=WS, extension="other.ext", step_type="x.y", duration_ms=99999.0, ok=False)
    stats = db.call_stats("acme.lint")
    assert stats == CallStats(calls=100, errors=10, p50_ms=50.0, p95_ms=95.0, p99_ms=99.0)
    assert db.call_stats("other.ext") == CallStats(1, 1, 99999.0, 99999.0, 99999.0)


def test_call_stats_small_sample(db: ExtensionsDB) -> None:
    for duration in (30.0, 10.0, 20.0):
        db.add_call(
            workspace=WS, extension="acme.lint", step_type="a.b", duration_ms=duration, ok=True
        )
    assert db.call_stats("acme.lint") == CallStats(3, 0, 20.0, 30.0, 30.0)


# --- two processes --------------------------------------------------------------------------------


def test_two_instances_share_the_file(db_path: Path) -> None:
    tui = ExtensionsDB(db_path)
    cli = ExtensionsDB(db_path)
    try:
        tui.pin("acme.lint", source="folder", path="/x", version="1.0.0", digest="h1")
        assert cli.registry()["acme.lint"].manifest_hash == "h1"
        cli.set_enabled("acme.lint", False)
        assert tui.registry()["acme.lint"].enabled is False
        tui.add_audit([record(target="from-tui")])
        cli.add_audit([record(target="from-cli", decision="denied")])
        assert [r.target for r in tui.audit()] == ["from-tui", "from-cli"]
        assert [r.target for r in cli.audit(denied_only=True)] == ["from-cli"]
        cli.add_call(workspace=WS, extension="acme.lint", step_type="a.b", duration_ms=5, ok=True)
        assert tui.call_stats("acme.lint").calls == 1
    finally:
        tui.close()
        cli.close()


# --- lifecycle ------------------------------------------------------------------------------------


def test_failed_is_reachable_from_anywhere() -> None:
    for state in State:
        assert can_move(state, State.FAILED), state


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (State.DISCOVERED, State.INSTALLED),
        (State.INSTALLED, State.LOADED),
        (State.LOADED, State.ACTIVATING),
        (State.LOADED, State.UNLOADED),
        (State.ACTIVATING, State.ACTIVE),
        (State.ACTIVE, State.DEACTIVATING),
        (State.DEACTIVATING, State.INACTIVE),
        (State.INACTIVE, State.ACTIVATING),
        (State.INACTIVE, State.UNLOADED),
        (State.UNLOADED, State.LOADED),
        (State.UNLOADED, State.INSTALLED),
        (State.FAILED, State.INSTALLED),
    ],
)
def test_legal_moves(old: State, new: State) -> None:
    assert can_move(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (State.ACTIVE, State.LOADED),
        (State.ACTIVE, State.INACTIVE),
        (State.ACTIVE, State.UNLOADED),
        (State.DISCOVERED, State.ACTIVE),
        (State.INSTALLED, State.ACTIVATING),
        (State.ACTIVATING, State.INACTIVE),
        (State.FAILED, State.ACTIVE),
        (State.FAILED, State.LOADED),
        (State.INACTIVE, State.ACTIVE),
        (State.ACTIVE, State.ACTIVE),
    ],
)
def test_illegal_moves(old: State, new: State) -> None:
    assert not can_move(old, new)


def test_transition_table_is_complete() -> None:
    assert set(TRANSITIONS) == set(State)
    for old, targets in TRANSITIONS.items():
        assert old not in targets, old
        for new in targets:
            assert can_move(old, new)
    # Every state but discovered can be reached by a normal transition.
    reachable = set().union(*TRANSITIONS.values())
    assert reachable == set(State) - {State.DISCOVERED, State.FAILED}
