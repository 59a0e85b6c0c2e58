"""Full-text search of the artifact store: ranking, filters, hostile input, snippets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.pit.artifacts import ArtifactStore, Producer, PutItem
from engine.types.errors import UsageError

FILLER = "the quick brown fox jumps over the lazy dog while nothing else happens here. "


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArtifactStore]:
    with ArtifactStore(tmp_path / "store") as s:
        yield s


def test_best_match_comes_first(store: ArtifactStore) -> None:
    weak = store.put_bytes((FILLER * 20 + "flamingo " + FILLER * 20).encode()).hash
    strong = store.put_bytes(b"flamingo flamingo flamingo: a report on flamingo colonies").hash
    store.put_bytes(FILLER.encode())
    hits = store.search("flamingo")
    assert [h.hash for h in hits] == [strong, weak]
    assert hits[0].score > hits[1].score > 0


def test_all_words_are_required_and_prefixes_work(store: ArtifactStore) -> None:
    both = store.put_bytes(b"pytest failure in parser module").hash
    store.put_bytes(b"pytest passed everything")
    assert [h.hash for h in store.search("pytest parser")] == [both]
    assert [h.hash for h in store.search("pars*")] == [both]
    assert store.search("pars") == []


def test_names_tags_and_producers_are_searchable(store: ArtifactStore) -> None:
    named = store.put_bytes(b"\x00binary", name="coverage-report").hash
    tagged = store.put_bytes(b"\x00binary 2", tags=["nightly"]).hash
    made = store.put_bytes(b"\x00binary 3", producer=Producer(model="gpt-tiny")).hash
    assert [h.hash for h in store.search("coverage")] == [named]
    assert [h.hash for h in store.search("nightly")] == [tagged]
    assert [h.hash for h in store.search("gpt-tiny")] == [made]
    assert store.search("binary") == []  # binary content is not indexed


def test_tag_changes_reach_the_index(store: ArtifactStore) -> None:
    h = store.put_bytes(b"some text").hash
    store.tag(h, "flagged")
    assert [x.hash for x in store.search("flagged")] == [h]
    store.untag(h, "flagged")
    assert store.search("flagged") == []
    assert [x.hash for x in store.search("some")] == [h]  # content still indexed


def test_filters(store: ArtifactStore) -> None:
    old = store.put_bytes(
        b"alpha old", tags=["ci"], producer=Producer(extension="pytest@8.1", run="run-1")
    ).hash
    cutoff = time.time()
    time.sleep(0.01)
    new_json = store.put_bytes(b'{"alpha": 1}', name="r.json", tags=["ci", "json"]).hash
    new_md = store.put_bytes(b"alpha notes", media_type="text/markdown").hash
    assert {h.hash for h in store.search("alpha", tags=["ci"])} == {old, new_json}
    assert [h.hash for h in store.search("alpha", tags=["ci", "json"])] == [new_json]
    assert [h.hash for h in store.search("alpha", media_type="application/json")] == [new_json]
    assert {h.hash for h in store.search("alpha", media_type="text/*")} == {old, new_md}
    assert [h.hash for h in store.search("alpha", producer="pytest")] == [old]
    assert [h.hash for h in store.search("alpha", producer="pytest@8.1")] == [old]
    assert [h.hash for h in store.search("alpha", producer="run-1")] == [old]
    assert store.search("alpha", producer="pyt") == []
    assert {h.hash for h in store.search("alpha", since=cutoff)} == {new_json, new_md}


def test_empty_query_lists_newest_first(store: ArtifactStore) -> None:
    first = store.put_bytes(b"one", tags=["t"]).hash
    time.sleep(0.01)
    store.put_bytes(b"two")
    time.sleep(0.01)
    third = store.put_bytes(b"three", tags=["t"]).hash
    assert [h.hash for h in store.search("", tags=["t"])] == [third, first]
    assert len(store.search("", limit=2)) == 2


@pytest.mark.parametrize(
    "query",
    ["foo-bar", '"', "a:b", "NOT", "*", "AND OR", "(", "a*b", "NEAR(a b)", "'; DROP", "^x", "-"],
)
def test_hostile_queries_never_raise(store: ArtifactStore, query: str) -> None:
    target = store.put_bytes(b"foo-bar a:b NOT text").hash
    hits = store.search(query)
    assert all(h.hash == target for h in hits)


def test_punctuated_words_match_as_phrases(store: ArtifactStore) -> None:
    target = store.put_bytes(b"error in foo-bar at a:b").hash
    store.put_bytes(b"foo then later bar")
    assert [h.hash for h in store.search("foo-bar")] == [target]
    assert [h.hash for h in store.search("a:b")] == [target]


def test_snippet_shows_the_match(store: ArtifactStore) -> None:
    store.put_bytes((FILLER * 5 + "the zeppelin landed " + FILLER * 5).encode())
    (hit,) = store.search("zeppelin")
    assert "«zeppelin»" in hit.snippet
    assert len(hit.snippet) < 200


def test_only_the_first_index_text_bytes_are_indexed(tmp_path: Path) -> None:
    with ArtifactStore(tmp_path / "s", index_text_bytes=100) as s:
        h = s.put_bytes(("early " + "x" * 200 + " late").encode()).hash
        assert [x.hash for x in s.search("early")] == [h]
        assert s.search("late") == []


def test_limit_must_be_positive(store: ArtifactStore) -> None:
    with pytest.raises(UsageError):
        store.search("x", limit=0)


def test_exact_tag_filter_reaches_past_many_better_ranked_near_misses(
    store: ArtifactStore,
) -> None:
    # 200 strong matches tagged "ci-fast" (which the FTS prefilter for tag "ci" also keeps)
    # outrank the two weak matches really tagged "ci": the search must widen its window.
    store.put_many(
        PutItem(data=f"common common common {i}".encode(), tags=("ci-fast",)) for i in range(200)
    )
    weak = {
        store.put_bytes((FILLER * 10 + f"common {i}").encode(), tags=["ci"]).hash for i in range(2)
    }
    assert {h.hash for h in store.search("common", tags=["ci"])} == weak
    assert len(store.search("common", tags=["ci-fast"], limit=50)) == 50


def test_a_selective_time_filter_still_gives_ranked_hits_with_snippets(
    store: ArtifactStore,
) -> None:
    store.put_many(PutItem(data=f"needle needle number {i}".encode()) for i in range(300))
    cutoff = time.time()
    time.sleep(0.01)
    late = store.put_bytes((FILLER * 3 + "needle " + FILLER * 3).encode()).hash
    later = store.put_bytes(b"needle needle needle, late").hash
    hits = store.search("needle", since=cutoff)
    assert [h.hash for h in hits] == [later, late]
    assert all("«needle»" in h.snippet for h in hits)
    assert [h.hash for h in store.search("need*", since=cutoff)] == [later, late]


def test_snippet_comes_from_the_content_not_the_filter_words(store: ArtifactStore) -> None:
    store.put_bytes(b"release notes mention ci once", tags=["ci"])
    (hit,) = store.search("release", tags=["ci"])
    assert hit.snippet.startswith("«release» notes")


def test_a_nul_in_the_query_is_dropped(store: ArtifactStore) -> None:
    from engine.pit.artifacts.search import to_fts_query

    hit = store.put_bytes(b"nulbyte here").hash
    assert to_fts_query("nul\0byte") == '"nulbyte"'
    assert [h.hash for h in store.search("nul\0byte")] == [hit]
    assert [h.hash for h in store.search("\0")] == [hit]  # no words: the newest
    assert [h.hash for h in store.search("here", media_type="text/\0plain")] == []


def test_a_prefix_shorter_than_three_characters_is_a_plain_word(store: ArtifactStore) -> None:
    word = store.put_bytes(b"pa is a word here").hash
    store.put_bytes(b"parser parsing party")
    assert [h.hash for h in store.search("pa*")] == [word]
    assert len(store.search("par*")) == 1


def _mixed_store(store: ArtifactStore) -> float:
    """300 artifacts in two batches (the later batch after the returned time)."""
    words = ["alpha", "beta", "gamma", "delta"]
    store.put_many(
        PutItem(
            data=" ".join(words[j % 4] for j in range(i % 7 + 1)).encode() + f" n{i}".encode(),
            tags=("ci",) if i % 3 == 0 else (),
            producer=Producer(run=f"run-{i % 5}"),
        )
        for i in range(200)
    )
    cutoff = time.time()
    time.sleep(0.01)
    store.put_many(
        PutItem(
            data=(FILLER * (i % 3) + " alpha gamma" * (i % 4 + 1) + f" late{i}").encode(),
            tags=("ci",) if i % 2 else (),
            producer=Producer(run=f"run-{i % 5}"),
        )
        for i in range(100)
    )
    return cutoff


@pytest.mark.parametrize(
    "query", ["alpha", "alpha gamma", "gam*", "beta delta", "late1", "alpha late*"]
)
def test_ranking_among_few_passing_artifacts_matches_the_windowed_path(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    from engine.pit.artifacts import search as search_mod

    cutoff = _mixed_store(store)
    for kw in ({"since": cutoff}, {"since": cutoff, "limit": 100}, {"since": cutoff, "limit": 3}):
        monkeypatch.setattr(search_mod, "_RESTRICT_MAX", 0)
        slow = store.search(query, **kw)  # type: ignore[arg-type]
        monkeypatch.setattr(search_mod, "_RESTRICT_MAX", 10**9)
        fast = store.search(query, **kw)  # type: ignore[arg-type]
        assert [h.hash for h in fast] == [h.hash for h in slow]
        assert [h.score for h in fast] == pytest.approx([h.score for h in slow])
        # (the windowed path gives a hit matched only by a prefix no snippet; this one does)
        assert all(f.snippet == s.snippet for f, s in zip(fast, slow, strict=True) if s.snippet)
        assert all(h.snippet for h in fast)
    for kw in ({"tags": ["ci"], "limit": 300}, {"producer": "run-3", "limit": 300}):
        monkeypatch.setattr(search_mod, "_RESTRICT_MAX_PREFILTERED", 0)
        slow = store.search(query, **kw)  # type: ignore[arg-type]
        monkeypatch.setattr(search_mod, "_RESTRICT_MAX_PREFILTERED", 10**9)
        fast = store.search(query, **kw)  # type: ignore[arg-type]
        assert {h.hash for h in fast} == {h.hash for h in slow}


def test_ranking_among_few_finds_rows_moved_by_a_rowid_collision(store: ArtifactStore) -> None:
    from engine.pit.artifacts.search import _base_rowid, fts_rowid

    a = store.put_bytes(b"collide alpha").hash
    b = store.put_bytes(b"collide beta").hash
    cutoff = time.time()
    time.sleep(0.01)
    c = store.put_bytes(b"collide gamma").hash
    with store.db.write() as conn:
        # c's row is pushed one slot up (as on a collision) and b's row takes c's slot.
        conn.execute("UPDATE search SET rowid = ? WHERE hash = ?", (_base_rowid(c) + 1, c))
        conn.execute("UPDATE search SET rowid = ? WHERE hash = ?", (_base_rowid(c), b))
        assert fts_rowid(conn, c) == _base_rowid(c) + 1
    assert [h.hash for h in store.search("collide", since=cutoff)] == [c]
    assert {h.hash for h in store.search("collide")} == {a, b, c}
