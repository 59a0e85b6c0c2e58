"""Benchmark of the artifact store against plain files and plain SQLite (SPEC §7).

Figures, each next to a baseline measured in the same run, in a fresh temp folder:

* put of 1 KB, 1 MB and 100 MB (hash, temp file, fsync, rename, dir fsync, metadata and index
  rows) vs a plain ``write`` + ``fsync`` of the same bytes to a new file; get (``get_bytes``,
  which also records the access) vs a plain ``open().read()``;
* search p50/p99 over 50,000 generated ~1 KB text artifacts, for rare words (in ~5 documents)
  and common words (in most documents), ranked by BM25 with snippets, vs a plain SQLite
  ``LIKE '%word%'`` scan of the same texts (unranked; all matches);
* ``info`` (row, names, tags, producers, inputs) vs a bare ``SELECT`` by primary key.

Run with ``python -m bench.bench_artifacts``. Nothing here fails on timing.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import Figure, percentile, print_table
from engine.pit.artifacts import ArtifactStore, Producer, PutItem

DOCS = 50_000
VOCABULARY = 20_000
WORDS_PER_DOC = 150  # ≈ 1 KB of text
QUERIES = 200
BASELINE_QUERIES = 20
LOOKUPS = 2_000
SIZES = (("1 KB", 1 << 10, 200), ("1 MB", 1 << 20, 20), ("100 MB", 100 << 20, 3))


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _plain_write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _put_get(store: ArtifactStore, plain: Path) -> list[Figure]:
    figures: list[Figure] = []
    for label, size, reps in SIZES:
        buf = bytearray(os.urandom(size))
        put_s, write_s, get_s, read_s = [], [], [], []
        for rep in range(reps):
            buf[:8] = rep.to_bytes(8, "big")  # distinct content each time: no dedupe
            data = bytes(buf)
            target = plain / f"{label.replace(' ', '')}-{rep}"
            write_s.append(_timed(partial(_plain_write, target, data)))
            put_s.append(_timed(partial(store.put_bytes, data)))
            digest = hashlib.sha256(data).hexdigest()
            read_s.append(_timed(target.read_bytes))
            get_s.append(_timed(partial(store.get_bytes, digest)))
        del buf
        unit, scale = ("µs", 1e3) if size < (1 << 20) else ("ms", 1.0)
        figures += [
            Figure(
                f"put {label} (median of {reps})",
                _median_ms(put_s) * scale,
                unit,
                "write+fsync",
                _median_ms(write_s) * scale,
            ),
            Figure(
                f"get {label} (median of {reps})",
                _median_ms(get_s) * scale,
                unit,
                "open().read()",
                _median_ms(read_s) * scale,
            ),
        ]
    return figures


def _corpus(rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """Texts drawn from a Zipf-like vocabulary, plus rare and common query words."""
    vocab = [
        f"{rng.choice('bcdfghklmnprstvz')}{rng.choice('aeiou')}w{i}" for i in range(VOCABULARY)
    ]
    weights = [1.0 / (rank + 1) for rank in range(VOCABULARY)]
    texts = [" ".join(rng.choices(vocab, weights, k=WORDS_PER_DOC)) for _ in range(DOCS)]
    common = vocab[:20]  # each in most documents
    rare = vocab[-2000:]  # each in a handful of documents
    return texts, rare, common


def _query_times(fn: Callable[[str], object], words: list[str], n: int) -> list[float]:
    samples = []
    for i in range(n):
        samples.append(_timed(partial(fn, words[i % len(words)])) * 1e3)
    return samples


def _search(store: ArtifactStore, tmp: Path) -> list[Figure]:
    rng = random.Random(1234)
    texts, rare, common = _corpus(rng)
    start = time.perf_counter()
    store.put_many(
        PutItem(data=t.encode(), media_type="text/plain", producer=Producer(run=f"run-{i % 50}"))
        for i, t in enumerate(texts)
    )
    load_s = time.perf_counter() - start
    plain = sqlite3.connect(tmp / "plain.db")
    plain.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    plain.executemany("INSERT INTO docs(body) VALUES (?)", ((t,) for t in texts))
    plain.commit()

    def ranked(word: str) -> object:
        return store.search(word, limit=20)

    def scan(word: str) -> object:
        return plain.execute("SELECT id FROM docs WHERE body LIKE ?", (f"%{word}%",)).fetchall()

    rng.shuffle(rare)
    for word in rare[:20] + common:  # warm caches
        ranked(word)
    fig: list[Figure] = []
    for kind, words in (("rare", rare), ("common", common)):
        ours = _query_times(ranked, words, QUERIES)
        base = _query_times(scan, words, BASELINE_QUERIES)
        for q in (50, 99):
            fig.append(
                Figure(
                    f"search {kind} word p{q} ({DOCS:,} docs)",
                    percentile(ours, q),
                    "ms",
                    "SQLite LIKE scan",
                    percentile(base, q),
                )
            )
    plain.close()
    print(f"  (bulk load of {DOCS:,} artifacts with put_many: {load_s:.1f} s)")
    return fig


def _lookups(store: ArtifactStore) -> list[Figure]:
    conn = sqlite3.connect(store.db.path)
    hashes = [r[0] for r in conn.execute("SELECT hash FROM artifacts")]
    picks = random.Random(7).choices(hashes, k=LOOKUPS)
    ours = [_timed(partial(store.info, h)) * 1e6 for h in picks]
    by_key = partial(conn.execute, "SELECT * FROM artifacts WHERE hash = ?")
    base = [_timed(lambda h=h: by_key((h,)).fetchone()) * 1e6 for h in picks]
    conn.close()
    return [
        Figure(
            "info() p50", percentile(ours, 50), "µs", "SELECT by primary key", percentile(base, 50)
        )
    ]


def run() -> list[Figure]:
    """Measure the artifact store and its baselines in a temp folder; return the figures."""
    with tempfile.TemporaryDirectory(prefix="symphony-bench-artifacts-") as d:
        tmp = Path(d)
        plain = tmp / "plain"
        plain.mkdir()
        with ArtifactStore(tmp / "sizes") as store:
            figures = _put_get(store, plain)
        with ArtifactStore(tmp / "search") as store:
            figures += _search(store, tmp)
            figures += _lookups(store)
    return figures


if __name__ == "__main__":
    print_table("artifact store", run())
