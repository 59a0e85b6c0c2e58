"""Benchmark of the pool manager's hot path against a bare lock and dict lookup (SPEC §3.5, §7).

``PoolManager.acquire`` of a HOT instance and the lease's ``release``, timed one pair at a time,
next to the floor of any thread-safe table: ``with lock: table.get(key)``, timed the same way in
the same run. A second pair of figures times the same loops without per-iteration timers
(throughput), so the timer's own cost does not flatter the ratio.

Run with ``python -m bench.bench_pool``. Nothing here fails on timing.
"""

from __future__ import annotations

import threading
import time

from bench.common import Figure, percentile, print_table
from engine.pit.pool import FunctionFactory, PoolManager

ITERATIONS = 100_000
WARMUP = 5_000
KEY = "model:bench"


def _lock_dict_samples(n: int) -> list[float]:
    """Latencies (µs) of n ``with lock: table.get(key)`` lookups."""
    lock = threading.Lock()
    table = {KEY: object(), "model:other": object()}
    get = table.get
    clock = time.perf_counter
    samples: list[float] = []
    for _ in range(WARMUP):
        with lock:
            get(KEY)
    for _ in range(n):
        start = clock()
        with lock:
            get(KEY)
        samples.append((clock() - start) * 1e6)
    return samples


def _pool_samples(pool: PoolManager, n: int) -> list[float]:
    """Latencies (µs) of n acquire + release pairs on a HOT instance."""
    acquire = pool.acquire
    clock = time.perf_counter
    samples: list[float] = []
    for _ in range(WARMUP):
        acquire(KEY).release()
    for _ in range(n):
        start = clock()
        acquire(KEY).release()
        samples.append((clock() - start) * 1e6)
    return samples


def _lock_dict_rate(n: int) -> float:
    """Lookups per second of ``with lock: table.get(key)`` in a tight loop."""
    lock = threading.Lock()
    table = {KEY: object()}
    get = table.get
    start = time.perf_counter()
    for _ in range(n):
        with lock:
            get(KEY)
    return n / (time.perf_counter() - start)


def _pool_rate(pool: PoolManager, n: int) -> float:
    """Acquire + release pairs per second on a HOT instance in a tight loop."""
    acquire = pool.acquire
    start = time.perf_counter()
    for _ in range(n):
        acquire(KEY).release()
    return n / (time.perf_counter() - start)


def run() -> list[Figure]:
    """Measure the pool's hot path and its lock + dict baseline; return the figures."""
    with PoolManager({"model": FunctionFactory(lambda key: object())}) as pool:
        pool.acquire(KEY).release()  # warm it: from here on every acquire is the fast path
        bare = _lock_dict_samples(ITERATIONS)
        pooled = _pool_samples(pool, ITERATIONS)
        bare_rate = _lock_dict_rate(ITERATIONS)
        pool_rate = _pool_rate(pool, ITERATIONS)
    return [
        Figure(
            "pool acquire+release (hot) p50",
            percentile(pooled, 50),
            "µs",
            "Lock + dict lookup p50",
            percentile(bare, 50),
        ),
        Figure(
            "pool acquire+release (hot) p99",
            percentile(pooled, 99),
            "µs",
            "Lock + dict lookup p99",
            percentile(bare, 99),
        ),
        Figure(
            "pool acquire+release (hot)",
            pool_rate,
            "op/s",
            "Lock + dict lookup",
            bare_rate,
            lower_is_better=False,
        ),
    ]


if __name__ == "__main__":
    print_table(f"pool manager ({ITERATIONS:,} hot acquires)", run())
