"""Properties of the arbitration engine under random load (hypothesis).

1. Never over capacity: no resource ever has more units held than its capacity.
2. No deadlock: random overlapping multi-resource requests from many threads all complete.
3. No starvation: a low-priority request under a sustained high-priority stream is granted within
   a bound (aging), and a multi-resource request is not starved by single-resource streams
   (reservation), under every strategy.
4. FIFO: under ``fifo`` one resource is granted strictly in arrival order, and with many
   resources a later request only takes units left over after every earlier waiting request.
5. Every grant has a matching decision with a rationale, and every request ends in exactly one
   outcome.

Bounds are generous (seconds where milliseconds are expected); ordering properties sequence
arrivals and releases from the test thread, so they do not depend on timing at all.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pit.arbitration import (
    STRATEGIES,
    Arbiter,
    ArbitrationTimeout,
    Decision,
    Grant,
    Resource,
    Strategy,
)
from tests.unit.test_arbitration import Pending, wait_until

FAST = settings(max_examples=25, deadline=None, database=None)
FEW = settings(max_examples=4, deadline=None, database=None)
OUTCOMES = {"granted", "denied", "timed_out", "cancelled"}


@dataclass(frozen=True)
class Step:
    needs: dict[str, int]
    priority: int
    hold_s: float
    mode: str  # "wait", "try" or "timeout" (a short timeout that may expire)


@st.composite
def workloads(draw: st.DrawFn) -> tuple[dict[str, int], list[list[Step]], Strategy, float]:
    defined = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    paths = draw(st.integers(0, 2))  # path: locks, defined on first use, dropped when idle
    capacities = defined + [1] * paths
    names = [f"r{i}" for i in range(len(defined))] + [f"path:p{i}" for i in range(paths)]

    def step() -> Step:
        chosen = draw(st.sets(st.integers(0, len(names) - 1), min_size=1, max_size=3))
        needs = {names[i]: draw(st.integers(1, capacities[i])) for i in sorted(chosen)}
        return Step(
            needs,
            draw(st.integers(0, 5)),
            draw(st.sampled_from([0.0, 0.0005, 0.002])),
            draw(st.sampled_from(["wait", "wait", "wait", "try", "timeout"])),
        )

    plans = [
        [step() for _ in range(draw(st.integers(1, 5)))] for _ in range(draw(st.integers(2, 8)))
    ]
    strategy = draw(st.sampled_from(STRATEGIES))
    reserve_after = draw(st.sampled_from([0.0, 0.002, 0.5]))
    return dict(zip(names, capacities, strict=True)), plans, strategy, reserve_after


@FAST
@given(workloads())
def test_random_contention_stays_within_capacity_completes_and_is_explained(
    workload: tuple[dict[str, int], list[list[Step]], Strategy, float],
) -> None:
    cap, plans, strategy, reserve_after = workload
    seen: list[Decision] = []
    arbiter = Arbiter(
        [Resource(n, c) for n, c in cap.items() if not n.startswith("path:")],
        strategy=strategy,
        aging_per_s=10.0,
        reserve_after=reserve_after,
        on_decision=seen.append,
    )
    guard = threading.Lock()
    using = Counter[str]()
    problems: list[str] = []
    grants: list[Grant] = []

    def hold(grant: Grant, seconds: float) -> None:
        with guard:
            using.update(grant.resources)
            over = [n for n in grant.resources if using[n] > cap[n]]
            grants.append(grant)
        problems.extend(f"{n} over capacity as seen by clients" for n in over)
        for name, state in arbiter.snapshot().items():
            if state["in_use"] > cap[name]:  # type: ignore[operator]
                problems.append(f"{name} over capacity in the ledger: {state}")
        time.sleep(seconds)
        with guard:
            using.subtract(grant.resources)
        grant.release()

    def client(index: int, plan: list[Step]) -> None:
        for k, step in enumerate(plan):
            kwargs = {"owner": f"t{index}", "label": f"t{index}.{k}", "priority": step.priority}
            try:
                if step.mode == "try":
                    grant = arbiter.try_acquire(step.needs, **kwargs)  # type: ignore[arg-type]
                else:
                    timeout = 0.001 if step.mode == "timeout" else 20.0
                    grant = arbiter.acquire(step.needs, timeout=timeout, **kwargs)  # type: ignore[arg-type]
            except ArbitrationTimeout:
                if step.mode != "timeout":
                    problems.append(f"t{index}.{k} timed out: deadlock or starvation")
                continue
            if grant is not None:
                hold(grant, step.hold_s)

    threads = [
        threading.Thread(target=client, args=(i, plan), daemon=True) for i, plan in enumerate(plans)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "a client never finished (deadlock)"
    assert problems == []

    # nothing held, nothing waiting, every unit back, idle path locks forgotten
    state = arbiter.snapshot()
    assert all(s["in_use"] == 0 and s["waiting"] == 0 for s in state.values())
    assert not [n for n in state if n.startswith("path:")]
    metrics = arbiter.metrics
    assert (metrics.held, metrics.waiting) == (0, 0)
    assert metrics.grants == metrics.releases == len(grants)

    # every grant has its decisions, with reasons; every request ends exactly once
    assert seen == arbiter.decisions(limit=len(seen) + 1)
    assert all(d.rationale for d in seen)
    by_request: dict[str, list[str]] = {}
    for decision in seen:
        by_request.setdefault(decision.request_id, []).append(decision.action)
    for grant in grants:
        assert by_request[grant.id].count("granted") == 1
        assert by_request[grant.id][-1] == "released"
    for rid, actions in by_request.items():
        ends = [a for a in actions if a in OUTCOMES]
        assert len(ends) == 1, (rid, actions)
        queued = ["queued"] if actions[0] == "queued" else []
        released = ["released"] if ends == ["granted"] else []
        assert actions == [*queued, *ends, *released], (rid, actions)
    total = sum(len(plan) for plan in plans)
    assert len(by_request) == total


@FAST
@given(st.integers(1, 4), st.data())
def test_fifo_grants_one_resource_strictly_in_arrival_order(
    capacity: int, data: st.DataObject
) -> None:
    sizes = data.draw(st.lists(st.integers(1, capacity), min_size=2, max_size=7))
    arbiter = Arbiter([Resource("x", capacity)], strategy="fifo")
    blocker = arbiter.acquire({"x": capacity}, owner="blocker", label="blocker")
    pending = [
        Pending(arbiter, {"x": size}, owner=f"o{i % 3}", label=f"w{i}")
        for i, size in enumerate(sizes)
    ]
    blocker.release()
    released: set[str] = set()
    rng = random.Random(data.draw(st.integers(0, 2**16)))
    while len(released) < len(pending):
        wait_until(lambda: any(p.done.is_set() and p.label not in released for p in pending))
        ready = [p for p in pending if p.done.is_set() and p.label not in released]
        chosen = rng.choice(ready)
        released.add(chosen.label)
        chosen.result().release()
    granted = [d.label for d in arbiter.decisions(limit=1000) if d.action == "granted"]
    assert granted == ["blocker"] + [p.label for p in pending]


@FAST
@given(st.lists(st.integers(1, 3), min_size=2, max_size=3), st.data())
def test_fifo_later_requests_take_only_units_no_earlier_waiter_needs(
    capacities: list[int], data: st.DataObject
) -> None:
    cap = {f"r{i}": c for i, c in enumerate(capacities)}
    arbiter = Arbiter([Resource(n, c) for n, c in cap.items()], strategy="fifo")
    held: list[Grant] = [arbiter.acquire({n: c}, owner="blocker") for n, c in cap.items()]
    wanted = data.draw(
        st.lists(
            st.dictionaries(st.sampled_from(sorted(cap)), st.integers(1, 3), min_size=1).map(
                lambda d: {n: min(u, cap[n]) for n, u in d.items()}
            ),
            min_size=2,
            max_size=6,
        )
    )
    pending = [Pending(arbiter, needs, owner="w", label=f"w{i}") for i, needs in enumerate(wanted)]
    granted: set[int] = set()
    while held:
        held.pop(data.draw(st.integers(0, len(held) - 1))).release()
        # the pass ran inside release(): the ledger and the decisions are settled now
        labels = {d.label for d in arbiter.decisions(limit=1000) if d.action == "granted"}
        now = {i for i, p in enumerate(pending) if p.label in labels} - granted
        state = arbiter.snapshot()
        for y in now:
            earlier_waiting = [wanted[x] for x in range(y) if x not in granted and x not in now]
            for name in wanted[y]:
                promised = sum(w.get(name, 0) for w in earlier_waiting)
                assert state[name]["in_use"] + promised <= cap[name], (y, name, state)  # type: ignore[operator]
        granted |= now
        held.extend(pending[i].result() for i in sorted(now))
    assert granted == set(range(len(pending))), "every request was served"


def _stream(
    arbiter: Arbiter,
    needs: dict[str, int],
    priority: int,
    stop: threading.Event,
    served: Counter[str],
) -> None:
    while not stop.is_set():
        with arbiter.acquire(
            needs, owner=f"hi-{threading.get_ident()}", priority=priority, timeout=10
        ):
            served[next(iter(needs))] += 1
            time.sleep(0.001)


def _run_streams(
    arbiter: Arbiter, streams: list[tuple[dict[str, int], int]]
) -> tuple[threading.Event, list[threading.Thread], Counter[str]]:
    stop = threading.Event()
    served = Counter[str]()
    threads = [
        threading.Thread(target=_stream, args=(arbiter, needs, prio, stop, served), daemon=True)
        for needs, prio in streams
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(served.values()) >= 2 * len(threads))
    return stop, threads, served


@FEW
@given(st.integers(2, 4), st.integers(1, 20))
def test_aging_grants_a_low_priority_request_under_a_high_priority_stream(
    streams: int, gap: int
) -> None:
    # effective priority overtakes every newcomer after gap / aging_per_s = at most 0.1 s
    arbiter = Arbiter([Resource("model:x", 1)], aging_per_s=200.0, reserve_after=0.05)
    stop, threads, _ = _run_streams(arbiter, [({"model:x": 1}, gap)] * streams)
    try:
        started = time.monotonic()
        grant = arbiter.acquire({"model:x": 1}, owner="lo", label="low", priority=0, timeout=5)
        grant.release()
        assert time.monotonic() - started < 5
        rationale = next(
            d.rationale for d in arbiter.decisions(owner="lo") if d.action == "granted"
        )
        assert "aged priority 0 →" in rationale
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


@FEW
@given(st.sampled_from(STRATEGIES), st.integers(1, 2))
def test_a_multi_resource_request_is_not_starved_by_single_resource_streams(
    strategy: Strategy, per_resource: int
) -> None:
    # without reservation "a" and "b" would never be free at the same moment
    arbiter = Arbiter(
        [Resource("a"), Resource("b")], strategy=strategy, aging_per_s=1.0, reserve_after=0.02
    )
    stop, threads, served = _run_streams(
        arbiter, [({"a": 1}, 0)] * per_resource + [({"b": 1}, 0)] * per_resource
    )
    try:
        before = dict(served)
        grant = arbiter.acquire({"a": 1, "b": 1}, owner="lo", label="both", timeout=5)
        grant.release()
        assert served["a"] >= before["a"] and served["b"] >= before["b"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
