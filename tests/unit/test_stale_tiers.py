"""Tier storage: every copy streams, lands atomically, verifies, and reads back the original."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from engine.pit.artifacts import layout
from engine.pit.artifacts.models import Tier
from engine.pit.stale import TierStorage
from engine.types.errors import ArtifactError
from tests.stale_support import memory_url


@pytest.fixture(params=["folder", "file-url", "memory"])
def cold_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "folder":
        yield str(tmp_path / "cold")
    elif request.param == "file-url":
        yield (tmp_path / "cold").as_uri()
    else:
        yield from memory_url()


def _hot(root: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = layout.hot_path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _read(tiers: TierStorage, digest: str, tier: Tier) -> bytes:
    with tiers.open(digest, tier) as f:
        return f.read()


def test_round_trip_hot_warm_cold_hot_keeps_bytes(tmp_path: Path, cold_url: str) -> None:
    root = tmp_path / "store"
    data = b"line of text that compresses well\n" * 5000 + os.urandom(3000)
    digest = _hot(root, data)
    tiers = TierStorage(root, cold_url)
    for src, dst in ((Tier.HOT, Tier.WARM), (Tier.WARM, Tier.COLD), (Tier.COLD, Tier.HOT)):
        stored = tiers.copy(digest, src, dst)
        assert stored == tiers.stored_size(digest, dst)
        assert _read(tiers, digest, dst) == data
        tiers.remove(digest, src)
        assert not tiers.exists(digest, src)
        assert tiers.exists(digest, dst)
    assert layout.hot_path(root, digest).read_bytes() == data
    assert not layout.warm_path(root, digest).exists()


def test_warm_is_smaller_for_compressible_data(tmp_path: Path) -> None:
    data = b'{"key": "value", "n": 12345}\n' * 20_000
    digest = _hot(tmp_path, data)
    tiers = TierStorage(tmp_path, None)
    stored = tiers.copy(digest, Tier.HOT, Tier.WARM)
    assert stored == layout.warm_path(tmp_path, digest).stat().st_size
    assert stored < len(data) / 20
    assert _read(tiers, digest, Tier.WARM) == data


def test_large_blob_streams_with_small_memory(tmp_path: Path) -> None:
    data = os.urandom(20 << 20)
    digest = _hot(tmp_path / "store", data)
    tiers = TierStorage(tmp_path / "store", str(tmp_path / "cold"))
    tracemalloc.start()
    try:
        tiers.copy(digest, Tier.HOT, Tier.WARM)
        tiers.copy(digest, Tier.WARM, Tier.COLD)
        tiers.remove(digest, Tier.HOT)
        tiers.copy(digest, Tier.COLD, Tier.HOT)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak Python allocations {peak / 2**20:.1f} MiB for a 20 MiB blob"
    assert hashlib.sha256(layout.hot_path(tmp_path / "store", digest).read_bytes()).hexdigest() == (
        digest
    )


class _Corrupting(TierStorage):
    """Flips one byte of every copy between writing and verifying it."""

    def _written(self, digest: str, tier: Tier) -> None:
        if tier is Tier.COLD:
            fs, path = self._cold(digest)
            data = bytearray(fs.cat_file(path))
            data[len(data) // 2] ^= 0xFF
            fs.pipe_file(path, bytes(data))
            return
        path = self._local_path(digest, tier)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize(("src", "dst"), [(Tier.HOT, Tier.WARM), (Tier.HOT, Tier.COLD)])
def test_verification_rejects_a_corrupted_copy(
    tmp_path: Path, cold_url: str, src: Tier, dst: Tier
) -> None:
    root = tmp_path / "store"
    data = os.urandom(300_000)
    digest = _hot(root, data)
    tiers = _Corrupting(root, cold_url)
    with pytest.raises(ArtifactError, match="does not verify"):
        tiers.copy(digest, src, dst)
    assert not tiers.exists(digest, dst), "the bad copy must be removed"
    assert _read(tiers, digest, src) == data, "the source is untouched"


def test_verification_rejects_a_source_that_does_not_match_its_hash(tmp_path: Path) -> None:
    digest = _hot(tmp_path, b"original")
    layout.hot_path(tmp_path, digest).write_bytes(b"bit rot!")
    tiers = TierStorage(tmp_path, None)
    with pytest.raises(ArtifactError, match="sha256 " + hashlib.sha256(b"bit rot!").hexdigest()):
        tiers.copy(digest, Tier.HOT, Tier.WARM)
    assert not tiers.exists(digest, Tier.WARM)
    assert not tiers.verify(digest, Tier.HOT)


def test_copies_leave_no_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "store"
    digest = _hot(root, b"x" * 10_000)
    tiers = TierStorage(root, str(tmp_path / "cold"))
    tiers.copy(digest, Tier.HOT, Tier.WARM)
    tiers.copy(digest, Tier.WARM, Tier.COLD)
    assert list(layout.tmp_dir(root).iterdir()) == []
    assert [p.name for p in (tmp_path / "cold").rglob("*") if p.is_file()] == [digest]


def test_unknown_protocol_is_a_clear_error(tmp_path: Path) -> None:
    digest = _hot(tmp_path, b"data")
    tiers = TierStorage(tmp_path, "nosuchproto://bucket/x")
    with pytest.raises(ArtifactError, match="nosuchproto"):
        tiers.copy(digest, Tier.HOT, Tier.COLD)
    assert tiers.exists(digest, Tier.HOT)


def test_no_cold_url_is_a_clear_error(tmp_path: Path) -> None:
    digest = _hot(tmp_path, b"data")
    with pytest.raises(ArtifactError, match="cold_url"):
        TierStorage(tmp_path, None).copy(digest, Tier.HOT, Tier.COLD)


def test_missing_copies_and_bad_tiers(tmp_path: Path, cold_url: str) -> None:
    tiers = TierStorage(tmp_path, cold_url)
    digest = hashlib.sha256(b"never stored").hexdigest()
    for tier in (Tier.HOT, Tier.WARM, Tier.COLD):
        assert not tiers.exists(digest, tier)
        assert not tiers.verify(digest, tier)
        tiers.remove(digest, tier)  # idempotent: nothing to remove is fine
        with pytest.raises(ArtifactError):
            tiers.open(digest, tier)
        with pytest.raises(ArtifactError):
            tiers.stored_size(digest, tier)
    with pytest.raises(ArtifactError, match="deleted"):
        tiers.open(digest, Tier.DELETED)
    with pytest.raises(ArtifactError, match="cannot copy"):
        tiers.copy(digest, Tier.HOT, Tier.DELETED)
    with pytest.raises(ArtifactError, match="cannot copy"):
        tiers.copy(digest, Tier.HOT, Tier.HOT)


@pytest.fixture
def memory_cold() -> Iterator[str]:
    yield from memory_url()


def test_remove_partial_cleans_interrupted_cold_uploads(tmp_path: Path, memory_cold: str) -> None:
    tiers = TierStorage(tmp_path, memory_cold)
    digest = hashlib.sha256(b"partial").hexdigest()
    fs = fsspec.filesystem("memory")
    _fs, path = tiers._cold(digest)
    folder = path.rpartition("/")[0]
    fs.pipe_file(f"{folder}/.{digest}.tmp-dead", b"half")
    fs.pipe_file(f"{folder}/{digest[:8]}-other-artifact", b"not ours")
    tiers.remove_partial(digest, Tier.COLD)
    assert fs.ls(folder, detail=False) == [f"{folder}/{digest[:8]}-other-artifact"]
