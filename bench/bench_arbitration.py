"""Benchmark of the arbitration engine against bare ``threading.Lock`` (SPEC §7, issue 5).

Two figures, each next to its baseline measured in the same run:

* uncontended: one thread acquiring and releasing two resources through an ``Arbiter`` (two
  recorded decisions per cycle, each with its rationale) vs acquiring and releasing one bare
  ``threading.Lock``; reported as decisions per second and as time per cycle;
* contended: 8 threads each taking random one- or two-resource requests over 3 resources
  (cpu with 2 slots, two exclusive ones) vs the same threads serialised by one global Lock,
  in requests served per second: once releasing at once (pure coordination cost: the global
  lock is the floor, the arbiter pays for ranking, all-or-nothing checks and the decision log)
  and once holding each grant for 0.5 ms of simulated I/O (where the arbiter lets requests on
  different resources overlap and the global lock cannot).

Run with ``python -m bench.bench_arbitration``. Nothing here fails on timing.
"""

from __future__ import annotations

import random
import threading
import time

from bench.common import Figure, print_table
from engine.pit.arbitration import Arbiter, Resource

CYCLES = 50_000
WARMUP = 2_000
THREADS = 8
PER_THREAD = 3_000
PER_THREAD_IO = 150
HOLD_S = 0.0005  # a held request waiting on I/O (sleeps, so other threads may run)
NEEDS = ({"cpu": 1}, {"model:a": 1}, {"path:out.txt": 1}, {"cpu": 1, "model:a": 1})


def _lock_cycles(n: int) -> float:
    """Seconds for n acquire+release pairs of one bare lock."""
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release
    for _ in range(WARMUP):
        acquire()
        release()
    start = time.perf_counter()
    for _ in range(n):
        acquire()
        release()
    return time.perf_counter() - start


def _arbiter_cycles(n: int) -> tuple[float, int]:
    """Seconds for n uncontended acquire+release of two resources, and the decisions made."""
    arbiter = Arbiter([Resource("cpu", 4), Resource("model:a", 2)])
    needs = {"cpu": 1, "model:a": 1}
    acquire = arbiter.acquire
    for _ in range(WARMUP):
        acquire(needs, owner="bench", label="warm").release()
    before = arbiter.metrics.decisions
    start = time.perf_counter()
    for _ in range(n):
        acquire(needs, owner="bench", label="step").release()
    elapsed = time.perf_counter() - start
    return elapsed, arbiter.metrics.decisions - before


def _plans(seed: int, per_thread: int) -> list[list[dict[str, int]]]:
    rng = random.Random(seed)
    return [[rng.choice(NEEDS) for _ in range(per_thread)] for _ in range(THREADS)]


def _run_threads(work: list[threading.Thread]) -> float:
    start = time.perf_counter()
    for thread in work:
        thread.start()
    for thread in work:
        thread.join()
    return time.perf_counter() - start


def _contended_global_lock(plans: list[list[dict[str, int]]], hold_s: float) -> float:
    """Requests/s when every request takes one global lock, whatever it needs."""
    lock = threading.Lock()

    def client(plan: list[dict[str, int]]) -> None:
        for _needs in plan:
            with lock:
                if hold_s:
                    time.sleep(hold_s)

    work = [threading.Thread(target=client, args=(plan,)) for plan in plans]
    return sum(map(len, plans)) / _run_threads(work)


def _contended_arbiter(plans: list[list[dict[str, int]]], hold_s: float) -> float:
    """Requests/s of the same requests through an Arbiter (priority with aging)."""
    arbiter = Arbiter([Resource("cpu", 2), Resource("model:a", 1)])

    def client(index: int, plan: list[dict[str, int]]) -> None:
        owner = f"run-{index}"
        for k, needs in enumerate(plan):
            with arbiter.acquire(needs, owner=owner, label="step", priority=k % 3):
                if hold_s:
                    time.sleep(hold_s)

    work = [threading.Thread(target=client, args=(i, plan)) for i, plan in enumerate(plans)]
    return sum(map(len, plans)) / _run_threads(work)


def run() -> list[Figure]:
    """Measure the arbiter and its Lock baselines; return the figures."""
    lock_s = _lock_cycles(CYCLES)
    arb_s, decisions = _arbiter_cycles(CYCLES)
    plans = _plans(5, PER_THREAD)
    lock_rate = _contended_global_lock(plans, 0.0)
    arb_rate = _contended_arbiter(plans, 0.0)
    io_plans = _plans(6, PER_THREAD_IO)
    lock_io_rate = _contended_global_lock(io_plans, HOLD_S)
    arb_io_rate = _contended_arbiter(io_plans, HOLD_S)
    return [
        Figure(
            "arbiter decisions/s (1 thread, 2 resources)",
            decisions / arb_s,
            "ops/s",
            "Lock acquire+release/s",
            CYCLES / lock_s,
            lower_is_better=False,
        ),
        Figure(
            "arbiter acquire+release, 2 resources",
            arb_s / CYCLES * 1e6,
            "µs",
            "Lock acquire+release",
            lock_s / CYCLES * 1e6,
        ),
        Figure(
            f"arbiter, {THREADS} threads on 3 resources, no hold",
            arb_rate,
            "req/s",
            "one global Lock, same requests",
            lock_rate,
            lower_is_better=False,
        ),
        Figure(
            f"arbiter, {THREADS} threads, {HOLD_S * 1e3:g} ms hold",
            arb_io_rate,
            "req/s",
            "one global Lock, same requests and hold",
            lock_io_rate,
            lower_is_better=False,
        ),
    ]


if __name__ == "__main__":
    print_table(
        f"arbitration ({CYCLES:,} uncontended cycles; {THREADS}x{PER_THREAD:,} contended requests)",
        run(),
    )
