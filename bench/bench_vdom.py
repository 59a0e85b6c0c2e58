"""Benchmark of the motif virtual DOM on a 1,000-node tree with 10% of it changed (SPEC §5, §7).

The tree is a test-results dashboard: a summary bar (labels, a progress bar, buttons) and ten
suites, each a title and a table of keyed rows; 1,000 nodes counting text nodes. The update
changes 10% of the nodes (with a fixed seed): row cells and summary texts, the progress bar,
a few rows inserted, removed and moved. Figures, each the median of several runs next to a
baseline measured in the same run:

* diff of the two trees vs mounting the new tree from scratch (a full re-render of the
  in-memory mirror, which stands in for widgets and is far cheaper than Textual's ~1 ms per
  widget);
* diff + apply_to the mirror (the whole patch path) vs the same full re-mount;
* validate of the new tree (every tree a motif sends is checked) vs the same full re-mount;
* msgpack encode + decode of the tree (msgspec, typed) vs ``json.dumps`` + ``json.loads`` of
  the same tree as plain dicts; ``decode_tree`` (decode + validate) vs the same json baseline;
* diff + patch into the Textual renderer (``symphony_tui.motifs.TextualTarget``, real widgets
  in a headless app, until the app has processed the mounts) vs mounting the new tree in
  Textual from scratch the same way.

The target of the seed is 1-5 ms for the diff. Run with ``python -m bench.bench_vdom``.
Nothing here fails on timing.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from bench.common import Figure, print_table
from symphony_sdk.vdom import (
    Element,
    Mirror,
    apply_to,
    decode_tree,
    diff,
    encode,
    h,
    mount,
    validate,
)

TITLE = "motif virtual DOM (1,000 nodes, 10% changed)"
SUITES = 10
NODES = 1_000
SEED = 20_240_601
REPEATS = 31
OUTCOMES = ["passed", "failed", "skipped", "error"]

Suites = list[tuple[str, list[tuple[str, list[Any]]]]]


def _rows_for(nodes: int, suites: int) -> list[int]:
    """Rows per suite so the tree has ``nodes`` nodes (13 in the summary, 4 per suite + rows)."""
    rows = nodes - 13 - 4 * suites
    return [rows // suites + (1 if i < rows % suites else 0) for i in range(suites)]


def dashboard_data(rng: random.Random) -> Suites:
    """Suites of (test id, cells) rows."""
    return [
        (
            f"suite{s}",
            [
                (f"s{s}t{t}", [f"test_{s}_{t}", rng.choice(OUTCOMES), round(rng.random(), 3)])
                for t in range(count)
            ],
        )
        for s, count in enumerate(_rows_for(NODES, SUITES))
    ]


def dashboard(suites: Suites, done: int) -> Element:
    """The dashboard tree for ``suites``."""
    outcomes = [cells[1] for _, rows in suites for _, cells in rows]
    summary = h(
        "horizontal",
        [h("label", f"{outcomes.count(o)} {o}", key=o) for o in OUTCOMES],
        h("progress", key="progress", progress=done, total=len(outcomes)),
        h("button", key="rerun", label="Re-run failed", variant="primary"),
        h("button", key="stop", label="Stop"),
        key="summary",
    )
    return h(
        "vertical",
        summary,
        [
            h(
                "vertical",
                h("label", f"{name}: {len(rows)} tests", key="title", bold=True),
                h(
                    "table",
                    [h("row", key=tid, cells=cells) for tid, cells in rows],
                    key="rows",
                    columns=["test", "outcome", "seconds"],
                ),
                key=name,
            )
            for name, rows in suites
        ],
        key="dashboard",
    )


def changed(suites: Suites, rng: random.Random) -> Suites:
    """``suites`` with about 10% of the tree's nodes changed."""
    out = [(name, [(tid, list(cells)) for tid, cells in rows]) for name, rows in suites]
    all_rows = [row for _, rows in out for row in rows]
    for _, cells in rng.sample(all_rows, 80):  # 80 rows change their cells
        cells[1] = rng.choice([o for o in OUTCOMES if o != cells[1]])
        cells[2] = round(rng.random(), 3)
    for s in rng.sample(range(SUITES), 6):  # 6 removals, 6 insertions, 6 moves
        rows = out[s][1]
        del rows[rng.randrange(len(rows))]
        rows.insert(rng.randrange(len(rows)), (f"new{s}", [f"test_new_{s}", "passed", 0.1]))
        rows.insert(rng.randrange(len(rows)), rows.pop(rng.randrange(len(rows))))
    return out


def count(node: Element | str) -> int:
    """Nodes in a tree, text nodes included."""
    return 1 if isinstance(node, str) else 1 + sum(count(c) for c in node.children)


def _median_ms(fn: Callable[[], object], setup: Callable[[], None] | None = None) -> float:
    samples = []
    for _ in range(REPEATS):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run() -> list[Figure]:
    """Measure diff, patch, validate and the wire on the dashboard; return the figures."""
    rng = random.Random(SEED)
    before = dashboard_data(rng)
    old, new = dashboard(before, 500), dashboard(changed(before, rng), 510)
    assert count(old) == NODES, count(old)
    patches = diff(old, new)
    mirrors: list[Mirror] = []

    def fresh_mirror() -> None:
        mirrors[:] = [Mirror(old)]

    def diff_and_patch() -> None:
        apply_to(mirrors[0], diff(old, new))

    fresh_mirror()
    diff_and_patch()
    assert mirrors[0].to_element() == new
    plain = msgspec.to_builtins(new)
    decoder = msgspec.msgpack.Decoder(Element)

    remount_ms = _median_ms(lambda: mount(new))
    json_ms = _median_ms(lambda: json.loads(json.dumps(plain)))
    return [
        Figure(
            f"diff ({len(patches)} patches)",
            _median_ms(lambda: diff(old, new)),
            "ms",
            "full re-mount",
            remount_ms,
        ),
        Figure(
            "diff + apply_to(mirror)",
            _median_ms(diff_and_patch, setup=fresh_mirror),
            "ms",
            "full re-mount",
            remount_ms,
        ),
        Figure("validate", _median_ms(lambda: validate(new)), "ms", "full re-mount", remount_ms),
        Figure(
            "msgpack encode + decode",
            _median_ms(lambda: decoder.decode(encode(new))),
            "ms",
            "json dumps + loads",
            json_ms,
        ),
        Figure(
            "encode + decode_tree (validated)",
            _median_ms(lambda: decode_tree(encode(new))),
            "ms",
            "json dumps + loads",
            json_ms,
        ),
    ]


UI_REPEATS = 7


def textual_figures(old: Element, new: Element) -> list[Figure]:
    """Diff + patch into real Textual widgets vs a full re-mount of ``new`` (headless app):
    the synchronous part (widgets changed or built and mount called), and until the app has
    processed the mounts and repainted (``pilot.pause()``, which alone costs ~20 ms here)."""
    import asyncio

    from textual.app import App, ComposeResult
    from textual.containers import Vertical

    from symphony_tui.motifs import TextualTarget

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Vertical(id="host")

    async def measure() -> list[list[float]]:
        app = Host()
        samples: list[list[float]] = [[], [], [], []]
        async with app.run_test(size=(120, 40)) as pilot:
            target = TextualTarget(app.query_one("#host"))

            def patch() -> None:
                apply_to(target, diff(old, new))

            def remount() -> None:
                target.mount(new)

            for _ in range(UI_REPEATS):
                for slot, update in (
                    (0, patch),
                    (2, remount),
                ):
                    target.mount(old)
                    await pilot.pause()
                    start = time.perf_counter()
                    update()
                    samples[slot].append(time.perf_counter() - start)
                    await pilot.pause()
                    samples[slot + 1].append(time.perf_counter() - start)
        return samples

    patch, patch_settled, remount, remount_settled = (
        statistics.median(s) * 1000 for s in asyncio.run(measure())
    )
    return [
        Figure("diff + patch into Textual widgets", patch, "ms", "Textual full re-mount", remount),
        Figure(
            "  … until repainted",
            patch_settled,
            "ms",
            "re-mount until repainted",
            remount_settled,
        ),
    ]


def run_with_textual() -> list[Figure]:
    """:func:`run`'s figures and the Textual renderer's."""
    rng = random.Random(SEED)
    before = dashboard_data(rng)
    old, new = dashboard(before, 500), dashboard(changed(before, rng), 510)
    return [*run(), *textual_figures(old, new)]


if __name__ == "__main__":
    print_table(TITLE, run_with_textual())
