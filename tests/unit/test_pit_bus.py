"""The artifact commands on the bus, answered by a real engine over a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.pit.artifacts import ArtifactStore, Producer
from engine.pit.messages import (
    READ_LIMIT,
    ArtifactContent,
    ArtifactExported,
    ArtifactLineage,
    ArtifactReply,
    ArtifactSearchResults,
    ExportArtifact,
    GetArtifactInfo,
    GetArtifactLineage,
    PinArtifact,
    PutArtifact,
    ReadArtifact,
    SearchArtifacts,
)
from engine.runtime import Engine
from engine.types.errors import RemoteError


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def put(engine: Engine, data: bytes, **kw: object) -> ArtifactReply:
    reply = engine.send(PutArtifact(data=data, **kw))  # type: ignore[arg-type]
    assert isinstance(reply, ArtifactReply)
    return reply


def test_empty_store_searches_empty_and_is_not_created(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        found = engine.send(SearchArtifacts())
        assert isinstance(found, ArtifactSearchResults) and found.hits == ()
        with pytest.raises(RemoteError) as info:
            engine.send(ReadArtifact(ref="report"))
        assert info.value.remote_code == "usage"
        assert "nothing has been stored" in str(info.value)
    assert not (workspace / ".symphony").exists()


def test_empty_query_lists_newest_first_with_details(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        old = put(engine, b"first", name="a.txt", producer=Producer(extension="pytest@1"))
        new = put(engine, b"second", name="b.txt", tags=("ci",))
        found = engine.send(SearchArtifacts(details=True))
        assert isinstance(found, ArtifactSearchResults)
        assert [h.hash for h in found.hits] == [new.info.hash, old.info.hash]
        assert [i.hash for i in found.infos] == [new.info.hash, old.info.hash]
        assert found.infos[1].producers[0].extension == "pytest@1"
        plain = engine.send(SearchArtifacts(tags=("ci",)))
        assert isinstance(plain, ArtifactSearchResults)
        assert [h.hash for h in plain.hits] == [new.info.hash] and plain.infos == ()


def test_read_returns_the_first_bytes_and_the_whole_size(workspace: Path) -> None:
    body = b"x" * 10_000
    with Engine(workspace, watch_config=False) as engine:
        stored = put(engine, body, name="big.txt")
        head = engine.send(ReadArtifact(ref="big.txt", max_bytes=100))
        assert isinstance(head, ArtifactContent)
        assert head.data == body[:100] and head.truncated
        assert head.info.size == 10_000 and head.info.media_type == "text/plain"
        assert head.info.access_count == stored.info.access_count + 1
        whole = engine.send(ReadArtifact(ref=stored.info.hash[:8], max_bytes=READ_LIMIT * 4))
        assert isinstance(whole, ArtifactContent)
        assert whole.data == body and not whole.truncated


def test_read_never_ships_more_than_the_limit(workspace: Path) -> None:
    big = b"y" * (READ_LIMIT + 1000)
    with Engine(workspace, watch_config=False) as engine:
        put(engine, big, name="huge.log")
        head = engine.send(ReadArtifact(ref="huge.log", max_bytes=10 * READ_LIMIT))
        assert isinstance(head, ArtifactContent)
        assert len(head.data) == READ_LIMIT and head.truncated


def test_lineage_has_edges_and_every_node(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        src = put(engine, b"source", name="src.txt")
        mid = put(engine, b"middle", name="mid.txt", inputs=(src.info.hash,))
        out = put(engine, b"output", name="out.txt", inputs=(mid.info.hash,))
        lineage = engine.send(GetArtifactLineage(ref="mid.txt"))
        assert isinstance(lineage, ArtifactLineage)
        assert lineage.root.hash == mid.info.hash
        pairs = {(e.parent, e.child) for e in lineage.edges}
        assert pairs == {(src.info.hash, mid.info.hash), (mid.info.hash, out.info.hash)}
        assert set(lineage.nodes) == {src.info.hash, mid.info.hash, out.info.hash}
        assert lineage.nodes[out.info.hash].names == ("out.txt@1",)
        assert not lineage.truncated
        up = engine.send(GetArtifactLineage(ref="out.txt", direction="up", depth=1))
        assert isinstance(up, ArtifactLineage)
        assert [(e.parent, e.child) for e in up.edges] == [(mid.info.hash, out.info.hash)]
        cut = engine.send(GetArtifactLineage(ref="out.txt", depth=None, limit=1))
        assert isinstance(cut, ArtifactLineage) and cut.truncated and len(cut.edges) == 1


def test_pin_and_unpin_change_the_store(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        stored = put(engine, b"keep me", name="keep.txt")
        assert not stored.info.pinned
        pinned = engine.send(PinArtifact(ref="keep.txt", pinned=True))
        assert isinstance(pinned, ArtifactReply) and pinned.info.pinned
        again = engine.send(GetArtifactInfo(ref=stored.info.hash))
        assert isinstance(again, ArtifactReply) and again.info.pinned
        unpinned = engine.send(PinArtifact(ref="keep.txt", pinned=False))
        assert isinstance(unpinned, ArtifactReply) and not unpinned.info.pinned
    with ArtifactStore(workspace / ".symphony" / "artifacts") as store:
        assert not store.info("keep.txt").pinned


def test_export_writes_the_content_under_the_state_folder(workspace: Path) -> None:
    doc = json.dumps({"ok": True}).encode()
    with Engine(workspace, watch_config=False) as engine:
        stored = put(engine, doc, name="reports/result.json")
        nameless = put(engine, b"# Notes\n", media_type="text/markdown")
        exported = engine.send(ExportArtifact(ref="reports/result.json"))
        assert isinstance(exported, ArtifactExported)
        path = Path(exported.path)
        assert path.read_bytes() == doc
        assert path.name == "result.json"
        assert path.parent == workspace / ".symphony" / "tmp" / "artifacts" / stored.info.hash[:12]
        assert (path.parent.parent / ".gitignore").read_text().splitlines()[-1] == "*"
        other = engine.send(ExportArtifact(ref=nameless.info.hash))
        assert isinstance(other, ArtifactExported)
        assert Path(other.path).name == nameless.info.hash[:12] + ".md"
        with pytest.raises(RemoteError) as info:
            engine.send(ExportArtifact(ref="reports/result.json", max_bytes=3))
        assert info.value.remote_code == "usage" and "over the limit" in str(info.value)


@pytest.mark.parametrize(
    "command",
    [
        ReadArtifact(ref="nope"),
        GetArtifactLineage(ref="nope"),
        PinArtifact(ref="nope"),
        ExportArtifact(ref="nope"),
        GetArtifactInfo(ref="nope"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_bad_refs_are_clear_usage_errors(workspace: Path, command: object) -> None:
    with Engine(workspace, watch_config=False) as engine:
        put(engine, b"something", name="real.txt")
        with pytest.raises(RemoteError) as info:
            engine.send(command)  # type: ignore[arg-type]
        assert info.value.remote_code == "usage"
        assert "nope" in str(info.value)


def test_bad_arguments_are_usage_errors(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        put(engine, b"something", name="real.txt")
        for command in (
            GetArtifactLineage(ref="real.txt", depth=0),
            GetArtifactLineage(ref="real.txt", limit=0),
            ReadArtifact(ref="real.txt", max_bytes=-1),
        ):
            with pytest.raises(RemoteError) as info:
                engine.send(command)
            assert info.value.remote_code == "usage", command
