"""The arbitration engine: all-or-nothing grants, strategies, reservation, timeouts, decisions.

Ordering tests run on a fake clock (ages and waits) and sequence arrivals by waiting for each
request's ``queued`` decision, so they are deterministic; only the timeout and cancel tests use
real time, with generous bounds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from engine.pit.arbitration import (
    Arbiter,
    ArbitrationTimeout,
    Decision,
    Grant,
    Resource,
    Strategy,
)
from engine.types.errors import EXIT_RETRYABLE, Cancelled, SymphonyError, UsageError


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


class Pending:
    """``acquire`` running on its own thread; started only once it is queued (or done)."""

    def __init__(self, arbiter: Arbiter, needs: Mapping[str, int], **kwargs: Any) -> None:
        self.arbiter = arbiter
        self.label = kwargs.setdefault("label", f"w{id(self)}")
        self.grant: Grant | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(needs, kwargs), daemon=True)
        self.thread.start()
        wait_until(lambda: self.done.is_set() or self.queued)

    def _run(self, needs: Mapping[str, int], kwargs: dict[str, Any]) -> None:
        try:
            self.grant = self.arbiter.acquire(needs, **kwargs)
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    @property
    def queued(self) -> bool:
        return any(
            d.label == self.label and d.action == "queued"
            for d in self.arbiter.decisions(limit=10_000)
        )

    def result(self, timeout: float = 5.0) -> Grant:
        assert self.done.wait(timeout), f"{self.label} is still waiting"
        if self.error is not None:
            raise self.error
        assert self.grant is not None
        return self.grant


def granted_labels(arbiter: Arbiter) -> list[str]:
    return [d.label for d in arbiter.decisions(limit=10_000) if d.action == "granted"]


def last(arbiter: Arbiter, label: str, action: str) -> Decision:
    return [d for d in arbiter.decisions(limit=10_000) if d.label == label and d.action == action][
        -1
    ]


def test_grant_at_once_then_release_gives_the_units_back() -> None:
    arbiter = Arbiter([Resource("cpu", 2), Resource("model:x", 1)])
    grant = arbiter.acquire({"cpu": 1, "model:x": 1}, owner="run-1", label="lint")
    snap = arbiter.snapshot()
    assert snap["cpu"]["in_use"] == 1 and snap["model:x"]["free"] == 0
    assert snap["model:x"]["holders"] == [
        {"request": grant.id, "owner": "run-1", "label": "lint", "units": 1}
    ]
    assert (grant.owner, grant.label, grant.resources) == (
        "run-1",
        "lint",
        {"cpu": 1, "model:x": 1},
    )
    grant.release()
    assert grant.released
    assert arbiter.snapshot()["cpu"]["in_use"] == 0
    actions = [(d.action, d.request_id) for d in arbiter.decisions()]
    assert actions == [("granted", grant.id), ("released", grant.id)]
    assert all(d.rationale for d in arbiter.decisions())


def test_with_block_releases_once_and_release_is_idempotent() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    with arbiter.acquire({"cpu": 1}, owner="r") as grant:
        assert arbiter.try_acquire({"cpu": 1}, owner="other") is None
    grant.release()
    grant.release()
    assert [d.action for d in arbiter.decisions(owner="r")] == ["granted", "released"]
    assert arbiter.snapshot()["cpu"]["in_use"] == 0


def test_a_waiting_request_holds_nothing_until_everything_is_free() -> None:
    clock = Clock()
    arbiter = Arbiter([Resource("a"), Resource("b")], clock=clock)
    holder = arbiter.acquire({"a": 1}, owner="r1")
    both = Pending(arbiter, {"a": 1, "b": 1}, owner="r2", label="both")
    snap = arbiter.snapshot()
    assert snap["b"]["in_use"] == 0 and snap["a"]["waiting"] == snap["b"]["waiting"] == 1
    assert "a has 0 of 1 free" in last(arbiter, "both", "queued").rationale
    # b is idle and nobody has waited long enough to reserve it: a small request may use it
    small = arbiter.try_acquire({"b": 1}, owner="r3", label="small")
    assert small is not None
    holder.release()
    assert not both.done.wait(0.05), "granted while b was still held"
    small.release()
    grant = both.result()
    assert grant.resources == {"a": 1, "b": 1} and grant.owner == "r2"
    grant.release()


def test_unknown_resource_is_a_usage_error_naming_it_and_a_denial() -> None:
    arbiter = Arbiter([Resource("cpu", 4)])
    with pytest.raises(UsageError, match="unknown resource 'gpu'"):
        arbiter.acquire({"cpu": 1, "gpu": 1}, owner="r", label="train")
    denied = arbiter.decisions()[-1]
    assert denied.action == "denied" and "gpu" in denied.rationale and denied.label == "train"
    assert arbiter.snapshot()["cpu"]["in_use"] == 0


def test_path_resources_are_exclusive_locks_defined_on_first_use() -> None:
    arbiter = Arbiter()
    grant = arbiter.acquire({"path:src/app.py": 1}, owner="r1", label="format")
    assert arbiter.snapshot()["path:src/app.py"]["capacity"] == 1
    assert arbiter.try_acquire({"path:src/app.py": 1}, owner="r2") is None
    other = arbiter.try_acquire({"path:src/other.py": 1}, owner="r2")
    assert other is not None
    with pytest.raises(UsageError, match="capacity is 1"):
        arbiter.acquire({"path:src/app.py": 2}, owner="r3")
    waiter = Pending(arbiter, {"path:src/app.py": 1}, owner="r4", label="lint")
    grant.release()
    waiter.result().release()
    other.release()
    assert arbiter.snapshot() == {}, "idle path locks are forgotten"


def test_more_units_than_the_capacity_fail_at_once() -> None:
    arbiter = Arbiter([Resource("model:gpt", 2)])
    started = time.monotonic()
    with pytest.raises(UsageError, match="3 units of 'model:gpt', whose capacity is 2"):
        arbiter.acquire({"model:gpt": 3}, owner="r", timeout=None)
    assert time.monotonic() - started < 1.0
    assert arbiter.metrics.waiting == 0 and arbiter.metrics.denials == 1


@pytest.mark.parametrize("units", [-1, 1.5, True, "2"])
def test_units_must_be_whole_numbers(units: object) -> None:
    arbiter = Arbiter([Resource("cpu", 4)])
    with pytest.raises(UsageError, match="whole number"):
        arbiter.acquire({"cpu": units}, owner="r")  # type: ignore[dict-item]


def test_zero_units_are_ignored_and_empty_needs_are_granted() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    with arbiter.acquire({"cpu": 0}, owner="r") as nothing:
        assert nothing.resources == {}
        with arbiter.acquire({}, owner="r") as also_nothing:
            assert also_nothing.resources == {}
    assert arbiter.snapshot()["cpu"]["in_use"] == 0


def test_timeout_raises_a_retryable_error_and_leaves_no_trace() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    holder = arbiter.acquire({"cpu": 1}, owner="r1", label="build")
    started = time.monotonic()
    with pytest.raises(ArbitrationTimeout) as caught:
        arbiter.acquire({"cpu": 1}, owner="r2", label="test", timeout=0.05)
    assert 0.04 <= time.monotonic() - started < 2.0
    err = caught.value
    assert isinstance(err, SymphonyError) and err.retryable
    assert (err.code, err.exit_code) == ("arbitration.timeout", EXIT_RETRYABLE)
    assert err.request.label == "test" and err.waited >= 0
    assert "held by r1/build" in str(err)
    timed_out = last(arbiter, "test", "timed_out")
    assert "held by r1/build" in timed_out.rationale
    assert arbiter.snapshot()["cpu"]["waiting"] == 0
    holder.release()
    assert arbiter.try_acquire({"cpu": 1}, owner="r3") is not None


def test_cancel_event_stops_a_wait_promptly() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    holder = arbiter.acquire({"cpu": 1}, owner="r1")
    cancel = threading.Event()
    pending = Pending(arbiter, {"cpu": 1}, owner="r2", label="slow", cancel=cancel)
    started = time.monotonic()
    cancel.set()
    assert pending.done.wait(2.0)
    assert time.monotonic() - started < 0.5  # polled every 50 ms
    assert isinstance(pending.error, Cancelled)
    assert last(arbiter, "slow", "cancelled").rationale.startswith("cancelled while waiting")
    assert arbiter.metrics.cancellations == 1 and arbiter.metrics.waiting == 0
    holder.release()


def test_a_cancel_event_already_set_refuses_even_free_units() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        arbiter.acquire({"cpu": 1}, owner="r", cancel=cancel)
    assert arbiter.snapshot()["cpu"]["in_use"] == 0


def test_priority_serves_the_highest_first() -> None:
    arbiter = Arbiter([Resource("cpu", 1)], aging_per_s=0, clock=Clock())
    holder = arbiter.acquire({"cpu": 1}, owner="r", label="holder")
    waiting = [
        Pending(arbiter, {"cpu": 1}, owner="r", label=f"p{p}", priority=p) for p in (1, 5, 3)
    ]
    holder.release()
    for expected in ("p5", "p3", "p1"):
        pending = next(p for p in waiting if p.label == expected)
        pending.result().release()
    assert granted_labels(arbiter) == ["holder", "p5", "p3", "p1"]
    assert "first by effective priority of 3 waiting" in last(arbiter, "p5", "granted").rationale


def _stream_until_low_is_granted(aging_per_s: float, rounds: int) -> int | None:
    """A low request (priority 0) against one fresh priority-10 request a second.

    Returns the round in which the low one was granted, or None.
    """
    clock = Clock()
    arbiter = Arbiter([Resource("model:x", 1)], aging_per_s=aging_per_s, clock=clock)
    current = arbiter.acquire({"model:x": 1}, owner="hi", label="first")
    low = Pending(arbiter, {"model:x": 1}, owner="lo", label="low", priority=0)
    for n in range(1, rounds + 1):
        high = Pending(arbiter, {"model:x": 1}, owner="hi", label=f"high{n}", priority=10)
        clock.advance(1.0)
        current.release()  # decides, inside this call, who gets the unit next
        if any(d.label == "low" for d in arbiter.decisions() if d.action == "granted"):
            low.result().release()
            high.result().release()
            return n
        current = high.result()
    current.release()
    return None


def test_aging_bounds_the_wait_of_a_low_priority_request() -> None:
    # after n seconds the low request has effective priority n; each high one 10 + 1
    assert _stream_until_low_is_granted(aging_per_s=1.0, rounds=30) == 11


def test_without_aging_a_sustained_high_priority_stream_starves_the_low_request() -> None:
    assert _stream_until_low_is_granted(aging_per_s=0.0, rounds=20) is None


def test_a_long_waiting_request_reserves_its_units_against_backfill() -> None:
    clock = Clock()
    arbiter = Arbiter([Resource("cpu", 2)], reserve_after=0.5, clock=clock)
    holder = arbiter.acquire({"cpu": 1}, owner="r1", label="holder")
    big = Pending(arbiter, {"cpu": 2}, owner="r2", label="big")
    early = arbiter.try_acquire({"cpu": 1}, owner="r3", label="early")
    assert early is not None, "before the threshold a small request may use the idle unit"
    assert "ahead of 1 waiting request" in last(arbiter, "early", "granted").rationale
    early.release()
    clock.advance(0.6)
    assert arbiter.try_acquire({"cpu": 1}, owner="r3", label="late") is None
    assert "reserved for a longer-waiting request" in last(arbiter, "late", "denied").rationale
    holder.release()
    grant = big.result()
    assert "reserved for it after waiting 0.5 s" in last(arbiter, "big", "granted").rationale
    grant.release()


@pytest.mark.parametrize(("strategy", "later_waits"), [("fifo", True), ("priority", False)])
def test_fifo_never_lets_a_later_request_take_what_an_earlier_one_waits_for(
    strategy: Strategy, later_waits: bool
) -> None:
    arbiter = Arbiter([Resource("a"), Resource("b")], strategy=strategy, clock=Clock())
    holder = arbiter.acquire({"a": 1}, owner="r", label="holder")
    first = Pending(arbiter, {"a": 1, "b": 1}, owner="r", label="first")
    second = Pending(arbiter, {"b": 1}, owner="r", label="second")
    # priority: b is idle and "first" has not waited long enough to reserve it
    assert second.done.is_set() is not later_waits
    holder.release()
    if later_waits:
        first.result().release()
        second.result().release()
        assert granted_labels(arbiter) == ["holder", "first", "second"]
    else:
        second.result().release()
        first.result().release()
        assert granted_labels(arbiter) == ["holder", "second", "first"]


def test_fair_share_serves_the_owner_holding_least() -> None:
    arbiter = Arbiter([Resource("cpu", 3)], strategy="fair", clock=Clock())
    a1 = arbiter.acquire({"cpu": 1}, owner="A")
    a2 = arbiter.acquire({"cpu": 1}, owner="A")
    b1 = arbiter.acquire({"cpu": 1}, owner="B")
    from_a = Pending(arbiter, {"cpu": 1}, owner="A", label="a3")
    from_c = Pending(arbiter, {"cpu": 1}, owner="C", label="c1")
    b1.release()
    grant = from_c.result()
    assert not from_a.done.is_set()
    assert "owner 'C' held 0 unit(s)" in last(arbiter, "c1", "granted").rationale
    for g in (grant, a1):
        g.release()
    from_a.result().release()
    a2.release()


def test_define_grows_capacity_and_wakes_waiters() -> None:
    arbiter = Arbiter([Resource("cpu", 1)])
    holder = arbiter.acquire({"cpu": 1}, owner="r1")
    pending = Pending(arbiter, {"cpu": 1}, owner="r2")
    arbiter.define("cpu", 2)
    pending.result().release()
    holder.release()


def test_shrinking_keeps_holders_and_refuses_what_no_longer_fits() -> None:
    arbiter = Arbiter([Resource("cpu", 4)])
    held = [arbiter.acquire({"cpu": 1}, owner="r") for _ in range(3)]
    big = Pending(arbiter, {"cpu": 3}, owner="r2", label="big")
    arbiter.define("cpu", 2)
    with pytest.raises(UsageError, match="now has capacity 2"):
        big.result()
    assert last(arbiter, "big", "denied").rationale.endswith("it could never be granted")
    assert arbiter.snapshot()["cpu"]["in_use"] == 3, "holders keep their units"
    small = Pending(arbiter, {"cpu": 1}, owner="r3", label="small")
    held[0].release()
    assert not small.done.wait(0.05), "2 of 2 still in use after the shrink"
    held[1].release()
    small.result().release()
    held[2].release()


def test_decisions_filter_by_owner_newest_last_and_history_is_bounded() -> None:
    arbiter = Arbiter([Resource("cpu", 8)], history=5)
    for owner in ("a", "b", "a"):
        arbiter.acquire({"cpu": 1}, owner=owner).release()
    assert [d.owner for d in arbiter.decisions(limit=100)] == ["a", "b", "b", "a", "a"]
    assert [d.action for d in arbiter.decisions(owner="b")] == ["granted", "released"]
    assert len(arbiter.decisions(limit=2)) == 2
    assert arbiter.decisions(limit=0) == []
    assert arbiter.metrics.decisions == 6


def test_on_decision_sees_every_decision_and_a_failing_callback_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Decision] = []

    def callback(decision: Decision) -> None:
        seen.append(decision)
        raise RuntimeError("observer bug")

    arbiter = Arbiter([Resource("cpu", 1)], on_decision=callback)
    with caplog.at_level(logging.ERROR, logger="symphony.arbitration"):
        arbiter.acquire({"cpu": 1}, owner="r").release()
    assert [d.action for d in seen] == ["granted", "released"]
    assert seen == arbiter.decisions()
    assert "on_decision callback failed" in caplog.text


def test_metrics_count_grants_waits_and_wait_times() -> None:
    clock = Clock()
    arbiter = Arbiter([Resource("cpu", 1)], clock=clock)
    holder = arbiter.acquire({"cpu": 1}, owner="r")
    pending = Pending(arbiter, {"cpu": 1}, owner="r")
    assert arbiter.try_acquire({"cpu": 1}, owner="r") is None
    clock.advance(2.0)
    holder.release()
    pending.result().release()
    m = arbiter.metrics
    assert (m.grants, m.immediate, m.waits, m.denials, m.releases) == (2, 1, 1, 1, 2)
    assert (m.waiting, m.held) == (0, 0)
    assert m.mean_wait_s == pytest.approx(1.0) and m.p99_wait_s == pytest.approx(2.0)
    assert m.decisions == 6 and m.decisions_per_s > 0


def test_configuration_errors() -> None:
    with pytest.raises(UsageError, match="unknown arbitration strategy"):
        Arbiter(strategy="lottery")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Arbiter(aging_per_s=-1)
    with pytest.raises(UsageError, match="at least 1"):
        Resource("cpu", 0)
    with pytest.raises(UsageError, match="at least 1"):
        Arbiter().define("cpu", 0)
