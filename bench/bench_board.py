"""Benchmark of the Harmony Board's layout on generated melodies of 50, 1,000 and 10,000 steps.

The graphs are :func:`bench.bench_melody.generate`'s random DAGs (each step depends on about
two earlier ones, chosen anywhere before it, so many edges span several layers and need dummy
items: a hard case for a layered layout). Each figure is the median of several runs of
:func:`symphony_tui.board.layout.layout` (normal and zoomed-out) next to
``graphlib.TopologicalSorter.static_order`` of the same graph, measured in the same run. The
layout runs on the UI thread, so the 50-step figure should stay in the low milliseconds and the
1,000-step one well under a second.

Run with ``python -m bench.bench_board``. Nothing here fails on timing.
"""

from __future__ import annotations

import graphlib
import statistics
import time
from collections.abc import Callable
from functools import partial

from bench.bench_melody import generate
from bench.common import Figure, print_table
from engine.melody import Melody
from symphony_tui.board.layout import BoardGraph, LayoutNode, layout

TITLE = "Harmony Board layout (random DAGs, 2 dependencies per step)"
SIZES = (50, 1_000, 10_000)
REPEATS = {50: 21, 1_000: 5, 10_000: 1}


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _static_order(deps: dict[str, list[str]]) -> list[str]:
    return list(graphlib.TopologicalSorter(deps).static_order())


def run() -> list[Figure]:
    """Lay out each generated melody in both modes; return the figures."""
    figures: list[Figure] = []
    for steps in SIZES:
        graph = BoardGraph.from_melody(Melody.model_validate(generate(steps)))
        edges = graph.edges()
        normal = [LayoutNode(n.id, (f"○ {n.id}", n.uses)) for n in graph.nodes]
        compact = [LayoutNode(n.id, (f"○ {n.id}",)) for n in graph.nodes]
        deps: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
        for a, b in edges:
            deps[b].append(a)
        repeats = REPEATS[steps]
        sorter = partial(_static_order, deps)
        order_ms = _median_ms(sorter, max(repeats, 5))
        base = "graphlib static_order"
        figures += [
            Figure(
                f"layout {steps:,} steps",
                _median_ms(partial(layout, normal, edges), repeats),
                "ms",
                base,
                order_ms,
            ),
            Figure(
                f"layout {steps:,} steps, zoomed out",
                _median_ms(partial(layout, compact, edges, compact=True), repeats),
                "ms",
                base,
                order_ms,
            ),
        ]
    return figures


if __name__ == "__main__":
    print_table(TITLE, run())
