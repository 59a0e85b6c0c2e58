"""Shared helpers for benchmarks: timing, percentiles and the ratio table.

Absolute times vary between machines, so every figure is paired with a baseline measured in the
same run and reported as a ratio (SPEC §7). Nothing here ever fails on timing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured figure next to its baseline. ``lower_is_better`` decides the ratio's sense."""

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    lower_is_better: bool = True

    @property
    def ratio(self) -> float:
        """How many times the baseline this figure is (value / baseline)."""
        return self.value / self.baseline if self.baseline else float("inf")


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) of samples, interpolated."""
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[max(0, int(q * 10) - 1)]


def print_table(title: str, figures: list[Figure]) -> None:
    """Print figures as an aligned table with ratios against their baselines."""
    print(f"\n== {title}")
    width = max(len(f.name) for f in figures)
    bwidth = max(len(f.baseline_name) for f in figures)
    for f in figures:
        sense = "lower is better" if f.lower_is_better else "higher is better"
        print(
            f"  {f.name:<{width}}  {f.value:>12.3f} {f.unit:<6}"
            f"  vs {f.baseline_name:<{bwidth}} {f.baseline:>12.3f} {f.unit:<6}"
            f"  ratio {f.ratio:6.2f}x  ({sense})"
        )
