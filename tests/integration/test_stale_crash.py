"""``kill -9`` during a tier move never loses an artifact (SPEC §3.5, §8).

A subprocess runs one real :func:`engine.pit.stale.move` on a real store folder, SQLite database
and local cold folder, and is SIGKILLed either at a precise step (the script blocks there on a
pipe we control) or when the test sees the move's files appear. Afterwards, before and after
:func:`recover`, the metadata must name a copy whose sha256 is the artifact's hash; after
recovery the journal is empty, that copy is the only one, and it reads back the original bytes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.pit.artifacts import layout
from engine.pit.artifacts.db import Database
from engine.pit.artifacts.models import Tier
from engine.pit.stale import TierStorage, move, recover
from tests.stale_support import add_blob, open_db

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from engine.pit.artifacts.db import Database
from engine.pit.artifacts.models import Tier
from engine.pit.stale.moves import move
from engine.pit.stale.tiers import TierStorage
from pathlib import Path

root, cold, digest, src, dst, point = sys.argv[1:]
src, dst = Tier(src), Tier(dst)


def pause(name):
    if name == point:
        print("at", name, flush=True)
        sys.stdin.read()  # blocks until the test kills us


class Reader:
    # Pauses the source read of the copy after two chunks went into the temp file.
    def __init__(self, inner):
        self.inner, self.reads = inner, 0

    def read(self, n=-1):
        self.reads += 1
        if self.reads == 3:
            pause("copying")
        return self.inner.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.inner.close()


class Paused(TierStorage):
    copying = False

    def copy(self, d, s, t):
        pause("journaled")
        self.copying = True
        return super().copy(d, s, t)

    def open(self, d, t):
        f = super().open(d, t)
        if self.copying and t is src:
            self.copying = False
            return Reader(f)
        return f

    def _written(self, d, t):
        pause("written")

    def stored_size(self, d, t):
        pause("verified")
        return super().stored_size(d, t)

    def remove(self, d, t):
        pause("switched")
        super().remove(d, t)
        pause("removed")


db = Database(Path(root) / "pit.db")
print("started", flush=True)
move(db, Paused(Path(root), cold), digest, src, dst)
print("done", flush=True)
"""


def _setup(tmp_path: Path, size: int, src: Tier) -> tuple[Path, str, str, bytes]:
    root, cold = tmp_path / "store", str(tmp_path / "cold")
    data = os.urandom(size)
    db = open_db(root)
    digest = add_blob(db, root, data)
    if src is not Tier.HOT:
        move(db, TierStorage(root, cold), digest, Tier.HOT, src)
    db.close()
    return root, cold, digest, data


def _spawn(
    root: Path, cold: str, digest: str, src: Tier, dst: Tier, point: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(root), cold, digest, src.value, dst.value, point],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check(root: Path, cold: str, digest: str, data: bytes) -> Tier:
    """The invariants after a crash; returns the tier the artifact ends in."""
    db = Database(root / layout.DB_NAME)
    tiers = TierStorage(root, cold)
    try:
        conn = db.connection()
        tier = Tier(
            conn.execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()[0]
        )
        if tier is not Tier.DELETED:
            assert tiers.verify(digest, tier), f"before recovery, metadata names a bad {tier} copy"
        recover(db, tiers)
        assert conn.execute("SELECT count(*) FROM moves").fetchone()[0] == 0
        row = conn.execute(
            "SELECT tier, stored_size FROM artifacts WHERE hash = ?", (digest,)
        ).fetchone()
        tier = Tier(row["tier"])
        copies = [t for t in (Tier.HOT, Tier.WARM, Tier.COLD) if tiers.exists(digest, t)]
        if tier is Tier.DELETED:
            assert copies == []
            return tier
        assert copies == [tier], f"metadata says {tier}, copies in {copies}"
        assert row["stored_size"] == tiers.stored_size(digest, tier)
        with tiers.open(digest, tier) as f:
            assert f.read() == data
        return tier
    finally:
        db.close()


STEPS = ["journaled", "copying", "written", "verified", "switched", "removed"]
# Killed before the copy verified: the move is undone; after: it is finished.
FINAL = {"journaled": "src", "copying": "src", "written": "dst", "verified": "dst",
         "switched": "dst", "removed": "dst"}  # fmt: skip


PAIRS = [(Tier.HOT, Tier.WARM), (Tier.WARM, Tier.COLD), (Tier.COLD, Tier.HOT)]
CASES = [(src, dst, point) for src, dst in PAIRS for point in STEPS] + [
    # A move to deleted copies nothing: only the switch and the removal can be interrupted.
    (Tier.HOT, Tier.DELETED, "switched"),
    (Tier.HOT, Tier.DELETED, "removed"),
]


@pytest.mark.parametrize(("src", "dst", "point"), CASES, ids=[f"{s}-{d}-{p}" for s, d, p in CASES])
def test_kill_at_each_step_of_a_move(tmp_path: Path, src: Tier, dst: Tier, point: str) -> None:
    root, cold, digest, data = _setup(tmp_path, 8 << 20, src)
    with _spawn(root, cold, digest, src, dst, point) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        line = proc.stdout.readline()
        assert line == f"at {point}\n", (
            f"{line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    expected = src if FINAL[point] == "src" else dst
    assert _check(root, cold, digest, data) is expected


def _journal_has_row(root: Path, cold: str, digest: str, dst: Tier) -> Callable[[], bool]:
    def seen() -> bool:
        conn = sqlite3.connect(root / layout.DB_NAME, timeout=5)
        try:
            return (
                conn.execute("SELECT 1 FROM moves WHERE hash = ?", (digest,)).fetchone() is not None
            )
        finally:
            conn.close()

    return seen


def _temp_exists(root: Path, cold: str, digest: str, dst: Tier) -> Callable[[], bool]:
    folder = layout.tmp_dir(root) if dst is not Tier.COLD else Path(cold) / digest[:2]
    return lambda: (
        folder.is_dir() and any(p.name.startswith(f".{digest}") for p in folder.iterdir())
    )


def _dst_exists(root: Path, cold: str, digest: str, dst: Tier) -> Callable[[], bool]:
    tiers = TierStorage(root, cold)
    return lambda: tiers.exists(digest, dst)


@pytest.mark.parametrize("event", ["journal", "temp", "dst"])
@pytest.mark.parametrize(
    ("src", "dst"),
    [(Tier.HOT, Tier.WARM), (Tier.HOT, Tier.COLD), (Tier.WARM, Tier.HOT)],
    ids=["hot-warm", "hot-cold", "warm-hot"],
)
def test_kill_when_a_64_mib_move_is_seen_on_disk(
    tmp_path: Path, src: Tier, dst: Tier, event: str
) -> None:
    root, cold, digest, data = _setup(tmp_path, 64 << 20, src)
    probe = {"journal": _journal_has_row, "temp": _temp_exists, "dst": _dst_exists}[event]
    seen = probe(root, cold, digest, dst)
    with _spawn(root, cold, digest, src, dst, "none") as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        deadline = time.monotonic() + 30
        while proc.poll() is None and not seen() and time.monotonic() < deadline:
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # 64 MiB take far longer to copy, fsync and verify than one poll: the kill lands mid-move.
    assert proc.returncode == -signal.SIGKILL, "the move finished before the test saw it"
    assert _check(root, cold, digest, data) in (src, dst)
