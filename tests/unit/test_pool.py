"""The pool manager: lifecycle, single warm-up, LRU and memory limits, cool-down, failover, close.

Real threads throughout; a fake clock wherever idle time, health intervals or back-off matter,
so nothing here sleeps to let time pass.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from engine.pit.pool import (
    Factory,
    FunctionFactory,
    InstanceState,
    PoolError,
    PoolEvent,
    PoolManager,
    PoolTimeout,
    Usage,
    make_room,
)

COLD, WARMING, HOT, COOLING, FAILED = (
    InstanceState.COLD,
    InstanceState.WARMING,
    InstanceState.HOT,
    InstanceState.COOLING,
    InstanceState.FAILED,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(eq=False)
class Instance:
    key: str
    serial: int


class Recorder(Factory):
    """A factory that records every call; create can be held at a gate or made to raise."""

    def __init__(self, memory: dict[str, float] | None = None) -> None:
        self.lock = threading.Lock()
        self.created: list[Instance] = []
        self.closed: list[Instance] = []
        self.memory = memory or {}
        self.memory_calls = 0
        self.health_calls = 0
        self.fail: dict[str, Exception] = {}
        self.unhealthy: set[str] = set()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def create(self, key: str) -> object:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(5)
        if key in self.fail:
            raise self.fail[key]
        with self.lock:
            instance = Instance(key, len(self.created))
            self.created.append(instance)
        return instance

    def close(self, key: str, instance: object) -> None:
        assert isinstance(instance, Instance) and instance.key == key
        with self.lock:
            self.closed.append(instance)

    def healthy(self, key: str, instance: object) -> bool:
        self.health_calls += 1
        return key not in self.unhealthy

    def memory_mb(self, key: str) -> float:
        self.memory_calls += 1
        return self.memory.get(key, 0.0)

    def created_keys(self) -> list[str]:
        return [i.key for i in self.created]

    def closed_keys(self) -> list[str]:
        return [i.key for i in self.closed]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def factory() -> Recorder:
    return Recorder()


@pytest.fixture
def events() -> list[PoolEvent]:
    return []


@pytest.fixture
def make_pool(
    clock: FakeClock, factory: Recorder, events: list[PoolEvent]
) -> Iterator[Callable[..., PoolManager]]:
    pools: list[PoolManager] = []

    def make(**options: object) -> PoolManager:
        options.setdefault("clock", clock)
        options.setdefault("on_event", events.append)
        pool = PoolManager({"model": factory}, **options)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def _moves(events: list[PoolEvent], key: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.key, e.old, e.new) for e in events if key is None or e.key == key]


def _in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run target in a thread; its result (or exception) lands in the returned list."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(target())
        except Exception as e:
            out.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.002)


# -- lifecycle ------------------------------------------------------------------------------------


def test_lifecycle_emits_every_transition_in_order(
    make_pool: Callable[..., PoolManager], clock: FakeClock, events: list[PoolEvent]
) -> None:
    pool = make_pool(idle_cooldown_s=60)
    assert pool.state("model:a") is COLD
    with pool.acquire("model:a") as lease:
        assert pool.state("model:a") is HOT
        assert lease.key == "model:a"
        assert isinstance(lease.instance, Instance)
    clock.advance(61)
    pool.tick()
    assert _moves(events) == [
        ("model:a", COLD, WARMING),
        ("model:a", WARMING, HOT),
        ("model:a", HOT, COOLING),
        ("model:a", COOLING, COLD),
    ]
    assert events[0].reason == "acquire"
    assert events[1].reason.startswith("warmed in")
    assert events[2].reason == events[3].reason == "idle for 61 s"
    assert pool.state("model:a") is COLD


def test_hot_acquire_takes_the_fast_path_without_the_factory(
    make_pool: Callable[..., PoolManager], factory: Recorder, events: list[PoolEvent]
) -> None:
    pool = make_pool()
    first = pool.acquire("model:a")
    first.release()
    calls = (len(factory.created), factory.memory_calls, factory.health_calls)
    for _ in range(1000):
        with pool.acquire("model:a") as lease:
            assert lease.instance is first.instance
    assert (len(factory.created), factory.memory_calls, factory.health_calls) == calls
    assert len(events) == 2  # leases are not state changes


def test_release_is_idempotent(make_pool: Callable[..., PoolManager]) -> None:
    pool = make_pool()
    lease = pool.acquire("model:a")
    other = pool.acquire("model:a")
    lease.release()
    lease.release()
    assert lease.released
    assert pool.snapshot()[0]["leases"] == 1
    other.release()
    assert pool.snapshot()[0]["leases"] == 0


def test_concurrent_acquires_of_a_cold_key_share_one_warm_up(
    make_pool: Callable[..., PoolManager], factory: Recorder
) -> None:
    pool = make_pool()
    factory.gate = threading.Event()
    runs = [_in_thread(lambda: pool.acquire("model:a", timeout=5)) for _ in range(8)]
    assert factory.entered.wait(5)
    assert pool.state("model:a") is WARMING
    factory.gate.set()
    for thread, _ in runs:
        thread.join(5)
    leases = [out[0] for _, out in runs]
    assert factory.created_keys() == ["model:a"]
    assert all(getattr(lease, "instance", None) is factory.created[0] for lease in leases)
    assert pool.snapshot()[0]["leases"] == 8


def test_snapshot_reports_each_key(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    factory.memory["model:a"] = 512
    pool = make_pool()
    lease = pool.acquire("model:a")
    (row,) = pool.snapshot()
    assert row == {
        "key": "model:a",
        "state": HOT,
        "leases": 1,
        "last_used": clock.now,
        "memory": 512,
        "failures": 0,
        "reason": row["reason"],
    }
    lease.release()


# -- capacity -------------------------------------------------------------------------------------


def test_lru_eviction_picks_the_least_recently_used_idle_instance(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    pool = make_pool(max_instances=2)
    for key in ("model:a", "model:b", "model:a"):  # a used last, b least recently
        pool.acquire(key).release()
        clock.advance(1)
    with pool.acquire("model:c"):
        assert factory.closed_keys() == ["model:b"]
        assert [pool.state(k) for k in ("model:a", "model:b", "model:c")] == [HOT, COLD, HOT]
    evicted = next(e for e in pool.snapshot() if e["key"] == "model:b")
    assert "least recently used" in evicted["reason"]


def test_memory_budget_evicts_until_the_new_instance_fits(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    factory.memory.update({"model:a": 600, "model:b": 300, "model:c": 500, "model:huge": 2000})
    pool = make_pool(memory_budget_mb=1000)
    for key in ("model:a", "model:b"):
        pool.acquire(key).release()
        clock.advance(1)
    pool.acquire("model:c").release()
    assert factory.closed_keys() == ["model:a"]  # 300 + 500 fits; b stays
    assert sum(r["memory"] for r in pool.snapshot() if r["state"] is HOT) == 800
    with pytest.raises(PoolError, match="more than the whole budget of 1000 MB"):
        pool.acquire("model:huge")
    assert pool.state("model:b") is HOT  # nothing evicted for what can never fit


def test_make_room_never_evicts_when_it_would_not_be_enough() -> None:
    room = make_room(
        500,
        used=Usage(2, 900),
        freeing=Usage(),
        idle=[("a", 100)],
        max_instances=8,
        budget_mb=1000,
    )
    assert not room.fits and room.evict == () and not room.impossible  # wait instead
    room = make_room(
        500,
        used=Usage(3, 900),
        freeing=Usage(),
        idle=[("empty", 0), ("a", 600)],
        max_instances=8,
        budget_mb=1000,
    )
    assert room.evict == ("a",)  # a 0 MB instance frees no memory
    room = make_room(
        100,
        used=Usage(2, 0),
        freeing=Usage(1, 0),
        idle=[("a", 0)],
        max_instances=2,
        budget_mb=None,
    )
    assert room.evict == ()  # the instance being closed makes the room; wait for it


def test_leased_instances_are_never_evicted_and_acquire_times_out(
    make_pool: Callable[..., PoolManager], factory: Recorder
) -> None:
    pool = make_pool(max_instances=1)
    held = pool.acquire("model:a")
    started = time.monotonic()
    with pytest.raises(PoolTimeout, match=r"no room \(1/1 instances\)") as caught:
        pool.acquire("model:b", timeout=0.05)
    assert 0.04 <= time.monotonic() - started < 1
    assert isinstance(caught.value, PoolError) and caught.value.retryable
    assert pool.state("model:a") is HOT and factory.closed == []

    thread, out = _in_thread(lambda: pool.acquire("model:b", timeout=5))
    _wait_until(lambda: pool._table.waiting == 1)
    assert out == []  # still waiting for a to become idle
    held.release()
    thread.join(5)
    assert getattr(out[0], "key", None) == "model:b"
    assert factory.closed_keys() == ["model:a"]


# -- cool-down and health -------------------------------------------------------------------------


def test_idle_cool_down_spares_leased_instances(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    pool = make_pool(idle_cooldown_s=300, health_interval_s=10_000)
    lease = pool.acquire("model:a")
    clock.advance(1000)
    pool.tick()
    assert pool.state("model:a") is HOT  # leased: in use, not idle
    lease.release()
    clock.advance(299)
    pool.tick()
    assert pool.state("model:a") is HOT
    clock.advance(1)
    pool.tick()
    assert pool.state("model:a") is COLD
    assert factory.closed == factory.created


def test_failed_health_check_fails_over_to_the_fallback(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    pool = make_pool(health_interval_s=30, retry_backoff_s=5)
    pool.acquire("model:a").release()
    factory.unhealthy.add("model:a")
    clock.advance(29)
    pool.tick()
    assert pool.state("model:a") is HOT and factory.health_calls == 0
    clock.advance(1)
    pool.tick()
    assert pool.state("model:a") is FAILED
    assert factory.closed_keys() == ["model:a"]
    assert pool.snapshot()[0]["reason"] == "health check failed"

    with pool.acquire("model:a", fallbacks=["model:b"]) as lease:
        assert lease.key == "model:b"
    assert factory.created_keys() == ["model:a", "model:b"]

    factory.unhealthy.clear()
    clock.advance(5)  # the back-off has passed: a is tried again
    with pool.acquire("model:a", fallbacks=["model:b"]) as lease:
        assert lease.key == "model:a"
    assert factory.created_keys() == ["model:a", "model:b", "model:a"]


def test_an_unhealthy_leased_instance_is_closed_after_its_last_release(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    pool = make_pool(health_interval_s=30, retry_backoff_s=0)
    lease = pool.acquire("model:a")
    factory.unhealthy.add("model:a")
    clock.advance(30)
    pool.tick()
    assert pool.state("model:a") is FAILED
    assert factory.closed == []  # still in use
    lease.release()
    assert factory.closed_keys() == ["model:a"]


def test_health_check_that_raises_counts_as_unhealthy(
    make_pool: Callable[..., PoolManager], clock: FakeClock
) -> None:
    def broken(key: str, instance: object) -> bool:
        raise ConnectionError("server gone")

    pool = make_pool()
    pool.register("lsp", FunctionFactory(lambda key: object(), healthy=broken))
    pool.acquire("lsp:py").release()
    clock.advance(30)
    pool.tick()
    assert pool.state("lsp:py") is FAILED
    assert "ConnectionError: server gone" in pool.snapshot()[0]["reason"]


# -- failures -------------------------------------------------------------------------------------


def test_create_failure_tries_fallbacks_in_order(
    make_pool: Callable[..., PoolManager], factory: Recorder
) -> None:
    factory.fail["model:a"] = RuntimeError("no GPU")
    factory.fail["model:b"] = OSError("port busy")
    pool = make_pool()
    with pool.acquire("model:a", fallbacks=["model:b", "model:c"]) as lease:
        assert lease.key == "model:c"
    assert pool.state("model:a") is FAILED and pool.state("model:b") is FAILED
    with pytest.raises(PoolError) as caught:
        pool.acquire("model:b", fallbacks=["model:a"])
    assert caught.value.key == "model:b"
    assert "model:b: create failed: OSError: port busy" in str(caught.value)
    assert "model:a: create failed: RuntimeError: no GPU" in str(caught.value)


def test_repeated_create_failures_stay_failed_until_reset(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    factory.fail["model:a"] = RuntimeError("model file missing")
    pool = make_pool(retry_backoff_s=0, failure_cooldown_s=600)
    for attempt in range(1, 4):
        with pytest.raises(PoolError, match="model file missing"):
            pool.acquire("model:a")
        assert pool.snapshot()[0]["failures"] == attempt
    assert pool.state("model:a") is FAILED
    attempts = factory.entered
    attempts.clear()
    clock.advance(599)
    with pytest.raises(PoolError, match=r"failed 3 times in a row .* after reset"):
        pool.acquire("model:a")
    assert not attempts.is_set()  # not even tried

    del factory.fail["model:a"]
    pool.reset("model:a")
    assert pool.state("model:a") is COLD
    with pool.acquire("model:a") as lease:
        assert lease.key == "model:a"
    assert pool.snapshot()[0]["failures"] == 0


def test_failures_back_off_then_the_cool_down_allows_a_retry(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    factory.fail["model:a"] = RuntimeError("boom")
    pool = make_pool(retry_backoff_s=2, failure_cooldown_s=100)
    with pytest.raises(PoolError):
        pool.acquire("model:a")
    factory.entered.clear()
    with pytest.raises(PoolError, match=r"retried in 2\.0 s"):
        pool.acquire("model:a")
    assert not factory.entered.is_set()
    clock.advance(2)
    with pytest.raises(PoolError):
        pool.acquire("model:a")  # second failure: back-off doubles
    clock.advance(3.9)
    pool.tick()
    assert pool.state("model:a") is FAILED
    clock.advance(0.1)
    pool.tick()
    assert pool.state("model:a") is COLD  # the tick releases it once the back-off passed
    with pytest.raises(PoolError):
        pool.acquire("model:a")  # third failure in a row: held for the whole cool-down
    clock.advance(99)
    pool.tick()
    assert pool.state("model:a") is FAILED
    clock.advance(1)
    del factory.fail["model:a"]
    pool.acquire("model:a").release()
    assert pool.state("model:a") is HOT


def test_unknown_kinds_and_bad_keys_are_errors_naming_the_key(
    make_pool: Callable[..., PoolManager],
) -> None:
    pool = make_pool()
    with pytest.raises(PoolError, match="no factory registered for kind 'lsp'"):
        pool.acquire("lsp:python")
    with pytest.raises(PoolError, match="'kind:name'"):
        pool.acquire("llama3")
    with pytest.raises(PoolError):
        pool.register("a:b", FunctionFactory(lambda key: key))


def test_a_factory_inherits_default_health_and_memory() -> None:
    class Minimal(Factory):
        def create(self, key: str) -> object:
            return key

        def close(self, key: str, instance: object) -> None:
            pass

    minimal = Minimal()
    assert minimal.healthy("x:y", "x:y") is True
    assert minimal.memory_mb("x:y") == 0.0


# -- prewarm --------------------------------------------------------------------------------------


def test_prewarm_warms_in_the_background(
    make_pool: Callable[..., PoolManager], factory: Recorder
) -> None:
    pool = make_pool()
    factory.gate = threading.Event()
    started = time.monotonic()
    pool.prewarm(["model:a", "model:a"])
    assert time.monotonic() - started < 0.1  # never blocks on the warm-up
    assert factory.entered.wait(5)
    assert pool.state("model:a") is WARMING
    factory.gate.set()
    assert pool.settle(5)
    assert pool.state("model:a") is HOT
    with pool.acquire("model:a"):
        pass
    assert factory.created_keys() == ["model:a"]
    assert pool.snapshot()[0]["reason"].startswith("warmed in")


def test_prewarm_never_evicts_leased_or_prewarmed_instances(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    pool = make_pool(max_instances=1)
    lease = pool.acquire("model:a")
    pool.prewarm(["model:b"])
    assert pool.settle(5)
    assert pool.state("model:b") is COLD  # no room, and a is leased
    lease.release()
    clock.advance(1)
    pool.prewarm(["model:b"])  # a is idle and was used: it may go
    assert pool.settle(5)
    assert [pool.state("model:a"), pool.state("model:b")] == [COLD, HOT]
    pool.prewarm(["model:c"])  # b was prewarmed and never used: it stays
    assert pool.settle(5)
    assert [pool.state("model:b"), pool.state("model:c")] == [HOT, COLD]
    assert factory.created_keys() == ["model:a", "model:b"]


# -- threads and close ----------------------------------------------------------------------------


def test_start_runs_tick_on_a_background_thread(
    make_pool: Callable[..., PoolManager], clock: FakeClock, events: list[PoolEvent]
) -> None:
    cooled = threading.Event()

    def on_event(event: PoolEvent) -> None:
        if event.new is COLD:
            cooled.set()

    pool = make_pool(idle_cooldown_s=10, tick_interval_s=0.01, on_event=on_event)
    pool.acquire("model:a").release()
    pool.start()
    pool.start()
    clock.advance(10)
    assert cooled.wait(5)
    pool.close()
    thread = pool._ticker.thread
    assert thread is not None and not thread.is_alive()


def test_close_closes_every_instance_exactly_once(
    make_pool: Callable[..., PoolManager], clock: FakeClock, factory: Recorder
) -> None:
    factory.fail["model:bad"] = RuntimeError("boom")
    pool = make_pool(health_interval_s=30)
    pool.acquire("model:idle").release()
    held = pool.acquire("model:held")
    sick = pool.acquire("model:sick")
    factory.unhealthy.add("model:sick")
    clock.advance(30)
    pool.tick()  # sick: FAILED, closed only after its release
    factory.unhealthy.clear()
    with pytest.raises(PoolError):
        pool.acquire("model:bad")
    factory.gate = threading.Event()
    factory.entered.clear()
    warming, out = _in_thread(lambda: pool.acquire("model:slow"))
    assert factory.entered.wait(5)

    closer, _ = _in_thread(pool.close)
    _wait_until(lambda: pool._table.closed)
    factory.gate.set()  # the warm-up finishes after close began: it is closed too
    closer.join(5)
    warming.join(5)
    assert not closer.is_alive()
    assert isinstance(out[0], PoolError) and "closed" in str(out[0])

    counts = Counter(id(i) for i in factory.closed)
    assert set(counts.values()) == {1}
    assert {id(i) for i in factory.created} == set(counts)
    assert sorted(factory.closed_keys()) == [
        "model:held",
        "model:idle",
        "model:sick",
        "model:slow",
    ]
    pool.close()
    held.release()
    sick.release()
    assert len(factory.closed) == 4
    with pytest.raises(PoolError, match="closed"):
        pool.acquire("model:idle")


def test_event_callbacks_may_call_back_into_the_pool(factory: Recorder, clock: FakeClock) -> None:
    seen: list[list[dict[str, object]]] = []
    pools: list[PoolManager] = []
    pool = PoolManager(
        {"model": factory}, clock=clock, on_event=lambda e: seen.append(pools[0].snapshot())
    )
    pools.append(pool)
    with pool.acquire("model:a"):
        pass
    pool.close()
    # Delivered after the lock is released, each callback sees the state it announced.
    assert [rows[0]["state"] for rows in seen] == [WARMING, HOT, COOLING, COLD]


def test_a_failing_event_callback_does_not_break_the_pool(
    factory: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(event: PoolEvent) -> None:
        raise ValueError("bad handler")

    with PoolManager({"model": factory}, on_event=explode) as pool:
        pool.acquire("model:a").release()
        assert pool.state("model:a") is HOT
    assert "pool event handler failed" in caplog.text
