"""The stale manager with the real artifact store: tier out, then read back transparently."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts import ArtifactStore
from engine.pit.artifacts.models import Tier
from engine.pit.stale import StaleManager

DAY = 86_400.0


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_store_reads_rehydrate_tiered_artifacts(tmp_path: Path, cold: bool) -> None:
    cold_url = str(tmp_path / "cold") if cold else None
    retention = ArtifactRetention(hot_days=7, warm_days=30, cold_url=cold_url)
    text = b"a report line that compresses\n" * 50_000
    blob = os.urandom(3 << 20)
    with ArtifactStore(tmp_path / "store", cold_url=cold_url) as store:
        digests = [store.put_bytes(text).hash, store.put_bytes(blob).hash]
        manager = StaleManager(store.db, store.tiers(), retention)
        later = time.time() + (40 if cold else 10) * DAY
        planned = manager.plan(now=later)
        expected = Tier.COLD if cold else Tier.WARM
        assert sorted((m.hash, m.dst) for m in planned) == sorted((d, expected) for d in digests)
        report = manager.apply(planned)
        assert report.failed == ()
        assert report.freed_local_bytes > 0
        assert [store.info(d).tier for d in digests] == [expected, expected]
        assert store.verify().ok

        for digest, data in zip(digests, (text, blob), strict=True):
            with store.open(digest) as f:
                assert f.read() == data
            info = store.info(digest)
            assert info.tier is Tier.HOT
            assert info.stored_size == len(data)
        assert store.verify().ok
        if cold:  # rehydration removed the cold copies
            assert [p for p in (tmp_path / "cold").rglob("*") if p.is_file()] == []
