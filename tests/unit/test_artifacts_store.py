"""The artifact store: puts, dedupe, media types, names, tags, references, lineage, export."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts import ArtifactStore, Producer, PutItem, Tier, layout
from engine.types.errors import EXIT_USAGE, ArtifactError, UsageError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArtifactStore]:
    with ArtifactStore(tmp_path / "store") as s:
        yield s


def _blob_files(root: Path) -> list[Path]:
    return [p for p in (root / layout.HOT_DIR).rglob("*") if p.is_file()]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- put and get ------------------------------------------------------------------------------


def test_put_bytes_round_trips_and_describes_the_artifact(store: ArtifactStore) -> None:
    info = store.put_bytes(b"hello artifact", producer=Producer(extension="user"))
    assert info.hash == _sha(b"hello artifact")
    assert (info.size, info.stored_size, info.tier) == (14, 14, Tier.HOT)
    assert info.producers == (Producer(extension="user"),)
    assert store.get_bytes(info.hash) == b"hello artifact"
    assert layout.hot_path(store.root, info.hash).read_bytes() == b"hello artifact"


def test_put_file_streams_a_large_file(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB chunks and a tail
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    info = store.put_file(src)
    assert (info.hash, info.size) == (_sha(data), len(data))
    assert info.media_type == "application/octet-stream"
    with store.open(info.hash) as f:
        assert f.read() == data


def test_put_stream_reads_to_the_end(store: ArtifactStore) -> None:
    info = store.put_stream(io.BytesIO(b"streamed\n" * 1000), name="log.txt")
    assert store.get_bytes("log.txt") == b"streamed\n" * 1000
    assert info.media_type == "text/plain"


def test_put_file_that_cannot_be_read_is_a_usage_error(
    store: ArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="cannot read") as caught:
        store.put_file(tmp_path / "missing.txt")
    assert caught.value.exit_code == EXIT_USAGE
    assert store.count() == 0


def test_empty_content_is_an_artifact(store: ArtifactStore) -> None:
    info = store.put_bytes(b"")
    assert info.hash == _sha(b"")
    assert store.get_bytes(info.hash) == b""


def test_put_many_stores_every_item(store: ArtifactStore) -> None:
    items = [PutItem(data=f"doc {i}".encode(), tags=("bulk",)) for i in range(300)]
    hashes = store.put_many(items)
    assert hashes == [_sha(f"doc {i}".encode()) for i in range(300)]
    assert store.count() == 300
    assert store.get_bytes(hashes[299]) == b"doc 299"
    assert store.info(hashes[0]).tags == ("bulk",)
    assert store.verify().ok


# -- dedupe -----------------------------------------------------------------------------------


def test_same_content_twice_is_one_blob_and_one_row(store: ArtifactStore) -> None:
    a = store.put_bytes(b"same", producer=Producer(run="r1", node="n1"))
    b = store.put_bytes(b"same", producer=Producer(run="r2", node="n1"))
    c = store.put_bytes(b"same", producer=Producer(run="r2", node="n1"))
    assert a.hash == b.hash == c.hash
    assert store.count() == 1
    assert len(_blob_files(store.root)) == 1
    assert store.info(a.hash).producers == (
        Producer(run="r1", node="n1"),
        Producer(run="r2", node="n1"),
    )
    assert store.info(a.hash).created_at == a.created_at
    assert list((store.root / layout.TMP_DIR).iterdir()) == []


def test_putting_content_again_restores_an_artifact_deleted_by_tiering(
    store: ArtifactStore,
) -> None:
    info = store.put_bytes(b"precious")
    with store.db.write() as conn:  # what the stale manager does when it deletes bytes
        conn.execute(
            "UPDATE artifacts SET tier = 'deleted', stored_size = 0 WHERE hash = ?", (info.hash,)
        )
    layout.hot_path(store.root, info.hash).unlink()
    with pytest.raises(ArtifactError, match="deleted by tiering"):
        store.get_bytes(info.hash)
    again = store.put_bytes(b"precious")
    assert (again.tier, again.stored_size) == (Tier.HOT, 8)
    assert store.get_bytes(info.hash) == b"precious"


# -- media types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "given", "expected"),
    [
        (b"plain words\n", None, None, "text/plain"),
        ("héllo wörld".encode(), None, None, "text/plain"),
        (b"\x00\x01\x02binary", None, None, "application/octet-stream"),
        (b"\xff\xfe not utf-8", None, None, "application/octet-stream"),
        (b'{"a": 1}', "result.json", None, "application/json"),
        (b"a: 1\n", "conf.yaml", None, "application/yaml"),
        (b"# Title\n", "README.md", None, "text/markdown"),
        (b"\x89PNG\r\n", "pic.png", None, "image/png"),
        (b"anything", "x.json", "application/vnd.custom+json", "application/vnd.custom+json"),
    ],
)
def test_media_type_is_given_or_guessed(
    store: ArtifactStore, data: bytes, name: str | None, given: str | None, expected: str
) -> None:
    assert store.put_bytes(data, name=name, media_type=given).media_type == expected


def test_put_file_guesses_from_the_file_name(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n")
    assert store.put_file(src).media_type == "text/csv"


# -- names and versions ------------------------------------------------------------------------


def test_names_keep_a_version_chain(store: ArtifactStore) -> None:
    v1 = store.put_bytes(b"first", name="report")
    v2 = store.put_bytes(b"second", name="report")
    again = store.put_bytes(b"second", name="report")  # same as latest: no new version
    assert again.hash == v2.hash
    chain = store.versions("report")
    assert [(v.version, v.hash) for v in chain] == [(1, v1.hash), (2, v2.hash)]
    assert store.resolve("report") == v2.hash
    assert store.resolve("report@1") == v1.hash
    back = store.put_bytes(b"first", name="report")  # going back is a new version
    assert store.resolve("report") == back.hash == v1.hash
    assert store.info(v1.hash).names == ("report@1", "report@3")


def test_unknown_names_and_versions_are_usage_errors(store: ArtifactStore) -> None:
    store.put_bytes(b"x", name="report")
    with pytest.raises(UsageError, match="no version 9"):
        store.resolve("report@9")
    with pytest.raises(UsageError, match="no artifact named"):
        store.resolve("other@1")
    with pytest.raises(UsageError, match="no artifact named"):
        store.versions("other")


@pytest.mark.parametrize("bad", ["", " padded", "x@3", "tab\there"])
def test_bad_names_are_refused(store: ArtifactStore, bad: str) -> None:
    with pytest.raises(UsageError, match="invalid artifact name"):
        store.put_bytes(b"x", name=bad)
    assert store.count() == 0


# -- tags and pins ----------------------------------------------------------------------------


def test_tags_are_added_sorted_and_removed(store: ArtifactStore) -> None:
    info = store.put_bytes(b"x", tags=["zeta", "alpha"])
    assert info.tags == ("alpha", "zeta")
    store.tag(info.hash, "keep", "alpha")
    assert store.info(info.hash).tags == ("alpha", "keep", "zeta")
    store.untag(info.hash, "zeta", "absent")
    assert store.info(info.hash).tags == ("alpha", "keep")
    with pytest.raises(UsageError, match="invalid tag"):
        store.tag(info.hash, "two words")


def test_pin_and_unpin(store: ArtifactStore) -> None:
    info = store.put_bytes(b"x")
    assert not info.pinned
    store.pin(info.hash[:8])
    assert store.info(info.hash).pinned
    store.unpin(info.hash[:8])
    assert not store.info(info.hash).pinned


# -- references --------------------------------------------------------------------------------


def _colliding_contents() -> tuple[bytes, bytes]:
    """Two contents whose sha256 share their first 4 hex digits."""
    seen: dict[str, bytes] = {}
    i = 0
    while True:
        data = f"content {i}".encode()
        prefix = _sha(data)[:4]
        if prefix in seen:
            return seen[prefix], data
        seen[prefix] = data
        i += 1


def test_resolve_prefixes(store: ArtifactStore) -> None:
    a_data, b_data = _colliding_contents()
    a = store.put_bytes(a_data).hash
    b = store.put_bytes(b_data).hash
    assert store.resolve(a) == a
    assert store.resolve(a.upper()) == a
    shared = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    assert store.resolve(a[: shared + 1]) == a
    with pytest.raises(UsageError, match="ambiguous") as caught:
        store.resolve(a[:4])
    assert a[:12] in str(caught.value) and b[:12] in str(caught.value)
    with pytest.raises(UsageError, match="at least 4"):
        store.resolve(a[:3])
    with pytest.raises(UsageError, match="no artifact with hash"):
        store.resolve("0" * 64 if not a.startswith("0000") else "f" * 64)
    with pytest.raises(UsageError, match="no artifact named"):
        store.resolve("nothing-here")


def test_a_name_wins_over_a_hash_prefix(store: ArtifactStore) -> None:
    other = store.put_bytes(b"other")
    named = store.put_bytes(b"named", name=other.hash[:6])
    assert store.resolve(other.hash[:6]) == named.hash
    assert store.resolve(other.hash[:7]) == other.hash


# -- lineage -----------------------------------------------------------------------------------


def test_unknown_input_writes_no_row(store: ArtifactStore) -> None:
    with pytest.raises(UsageError, match="no artifact"):
        store.put_bytes(b"child", inputs=["deadbeef"])
    assert store.count() == 0


def test_lineage_up_down_and_depth(store: ArtifactStore) -> None:
    a = store.put_bytes(b"a").hash
    b = store.put_bytes(b"b", inputs=[a]).hash
    c = store.put_bytes(b"c", inputs=[b]).hash
    d = store.put_bytes(b"d", inputs=[c, a]).hash
    e = store.put_bytes(b"e", inputs=[d]).hash
    assert store.info(d).inputs == tuple(sorted([a, c]))
    up = {(x.parent, x.child): x.depth for x in store.lineage(d, direction="up")}
    assert up == {(c, d): 1, (a, d): 1, (b, c): 2, (a, b): 3}
    assert {(x.parent, x.child) for x in store.lineage(d, direction="up", depth=1)} == {
        (c, d),
        (a, d),
    }
    down = {(x.parent, x.child): x.depth for x in store.lineage(a, direction="down")}
    assert down == {(a, b): 1, (a, d): 1, (b, c): 2, (c, d): 3, (d, e): 2}
    both = store.lineage(c, depth=1)
    assert {(x.parent, x.child) for x in both} == {(b, c), (c, d)}
    assert [x.depth for x in store.lineage(e)] == sorted(x.depth for x in store.lineage(e))


def test_lineage_survives_a_cycle(store: ArtifactStore) -> None:
    x = store.put_bytes(b"x").hash
    y = store.put_bytes(b"y", inputs=[x]).hash
    store.put_bytes(b"x", inputs=[y])  # same content again, now made from y: x -> y -> x
    edges = {(e.parent, e.child): e.depth for e in store.lineage(x)}
    assert edges == {(x, y): 1, (y, x): 1}
    assert {(e.parent, e.child) for e in store.lineage(x, direction="up")} == {(x, y), (y, x)}


def test_lineage_arguments_are_checked(store: ArtifactStore) -> None:
    a = store.put_bytes(b"a").hash
    with pytest.raises(UsageError):
        store.lineage(a, depth=0)
    with pytest.raises(UsageError):
        store.lineage(a, direction="sideways")  # type: ignore[arg-type]


# -- reads, export, access ---------------------------------------------------------------------


def test_reads_record_accesses(store: ArtifactStore) -> None:
    info = store.put_bytes(b"x")
    store.get_bytes(info.hash)
    with store.open(info.hash) as f:
        f.read()
    after = store.info(info.hash)
    assert after.access_count == 2
    assert after.last_access >= info.last_access


def test_export_replaces_the_destination_atomically(store: ArtifactStore, tmp_path: Path) -> None:
    info = store.put_bytes(b"new content", name="out")
    dest = tmp_path / "out.txt"
    dest.write_bytes(b"old")
    assert store.export("out", dest) == len(b"new content")
    assert dest.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "store"]
    layout.hot_path(store.root, info.hash).write_bytes(b"tampered!!!")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.export("out", dest)
    assert dest.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "store"]
    with pytest.raises(UsageError, match="does not exist"):
        store.export("out", tmp_path / "no-such-dir" / "x")


# -- store lifecycle ---------------------------------------------------------------------------


def test_for_workspace_resolves_a_relative_root(tmp_path: Path) -> None:
    config = ArtifactRetention(root="state/artifacts", index_text_bytes=10)
    with ArtifactStore.for_workspace(tmp_path, config) as s:
        assert s.root == tmp_path / "state" / "artifacts"
        assert s.index_text_bytes == 10
        s.put_bytes(b"x")
    assert (tmp_path / "state" / "artifacts" / layout.DB_NAME).is_file()


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    s = ArtifactStore(tmp_path / "s")
    s.put_bytes(b"kept")
    s.close()
    with pytest.raises(ArtifactError, match="closed"):
        s.put_bytes(b"x")
    with ArtifactStore(tmp_path / "s") as reopened:
        assert reopened.get_bytes(_sha(b"kept")) == b"kept"


def test_count_and_total_size(store: ArtifactStore) -> None:
    store.put_bytes(b"12345")
    store.put_bytes(b"123")
    assert store.count() == 2
    assert store.total_size() == 8
    assert store.total_size(Tier.HOT) == 8
    assert store.total_size(Tier.WARM) == 0


def test_a_stream_that_fails_midway_stores_nothing(store: ArtifactStore) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError(5, "Input/output error")
            return b"x" * 1000

    with pytest.raises(UsageError, match="cannot read the content"):
        store.put_stream(Broken())  # type: ignore[arg-type]
    assert store.count() == 0
    assert list(layout.tmp_dir(store.root).iterdir()) == []


def test_lineage_of_a_diamond_gives_each_edge_once_at_its_nearest_depth(
    store: ArtifactStore,
) -> None:
    # a -> b, a -> c, b -> d, c -> d, d -> e, a -> e (shortcut)
    a = store.put_bytes(b"a").hash
    b = store.put_bytes(b"b", inputs=[a]).hash
    c = store.put_bytes(b"c", inputs=[a]).hash
    d = store.put_bytes(b"d", inputs=[b, c]).hash
    e = store.put_bytes(b"e", inputs=[d, a]).hash
    down = store.lineage(a, direction="down")
    assert [(x.parent, x.child, x.depth) for x in down] == sorted(
        [(a, b, 1), (a, c, 1), (a, e, 1), (b, d, 2), (c, d, 2), (d, e, 3)],
        key=lambda t: (t[2], t[0], t[1]),
    )
    up = {(x.parent, x.child): x.depth for x in store.lineage(e, direction="up")}
    assert up == {(d, e): 1, (a, e): 1, (b, d): 2, (c, d): 2, (a, b): 3, (a, c): 3}
    assert {(x.parent, x.child) for x in store.lineage(e, direction="up", depth=2)} == {
        (d, e),
        (a, e),
        (b, d),
        (c, d),
    }
    both = {(x.parent, x.child): x.depth for x in store.lineage(d)}
    assert both == {(b, d): 1, (c, d): 1, (d, e): 1, (a, b): 2, (a, c): 2}


def test_lineage_of_a_large_graph_with_diamonds_is_complete(store: ArtifactStore) -> None:
    n = 10_000
    start = store.put_bytes(b"start").hash
    nodes = [start] + [f"{i:064x}" for i in range(1, n)]
    edges = [(nodes[i], nodes[j]) for i in range(n) for j in (i + 1, i + 2) if j < n]
    with store.db.write() as conn:
        conn.executemany("INSERT INTO edges(parent, child) VALUES (?, ?)", edges)
    down = store.lineage(start, direction="down")
    assert len(down) == len(edges)
    depth = {(x.parent, x.child): x.depth for x in down}
    assert depth[(nodes[0], nodes[2])] == 1
    assert depth[(nodes[2], nodes[3])] == 2  # node 2 is reached at step 1, node 3 at step 2
    assert depth[(nodes[n - 2], nodes[n - 1])] == (n - 2 + 1) // 2 + 1
    assert len(store.lineage(start, direction="down", depth=3)) == 10
