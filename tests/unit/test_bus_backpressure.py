"""Bounded queues on the in-process bus: overflow policies, dead letters and health."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.bus import Bus, Overflow
from engine.types.errors import Backpressure
from engine.types.messages import ConfigRejected, Envelope, GetHealth, HealthStatus, Priority

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WAIT = 5.0
_names = itertools.count()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll ``predicate`` until it holds; fail the test if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.002)


def note(text: str) -> ConfigRejected:
    return ConfigRejected(message=text)


def text_of(envelope: Envelope) -> str:
    payload = envelope.payload
    assert isinstance(payload, ConfigRejected)
    return payload.message


class Blocker:
    """Records messages; holds its thread on each one while the gate is shut."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def __call__(self, envelope: Envelope) -> None:
        self.started.set()
        self.gate.wait(WAIT)
        self.seen.append(text_of(envelope))


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus(f"backpressure{next(_names)}", dead_letter_limit=100)
    yield bus
    bus.close()


@pytest.fixture
def blocker(bus: Bus) -> Iterator[Blocker]:
    handler = Blocker()
    yield handler
    handler.gate.set()  # before the bus fixture closes, so close() need not wait for it


def hold(bus: Bus, handler: Blocker) -> None:
    """Publish one message and wait until the handler holds it, so the queue starts empty."""
    bus.publish("evt.x", note("held"))
    assert handler.started.wait(WAIT)


def test_block_raises_backpressure_after_block_timeout(bus: Bus, blocker: Blocker) -> None:
    sub = bus.subscribe("evt.*", blocker, maxsize=4, block_timeout=0.2, name="slow")
    hold(bus, blocker)
    for i in range(4):
        bus.publish("evt.x", note(str(i)))
    start = time.monotonic()
    with pytest.raises(Backpressure, match="slow") as caught:
        bus.publish("evt.x", note("too-many"))
    assert 0.2 <= time.monotonic() - start < 0.2 + 0.8
    assert caught.value.retryable
    assert sub.pending == 4
    [letter] = bus.dead_letters()
    assert (letter.reason, text_of(letter.envelope)) == ("backpressure", "too-many")
    assert "'slow' stayed full (4) for 0.2 s" in (letter.error or "")
    blocker.gate.set()
    wait_until(lambda: len(blocker.seen) == 5)
    assert blocker.seen == ["held", "0", "1", "2", "3"]
    assert sub.stats().high_water == 4


def test_block_waits_for_room_and_then_succeeds(bus: Bus, blocker: Blocker) -> None:
    sub = bus.subscribe("evt.*", blocker, maxsize=2, block_timeout=WAIT)
    hold(bus, blocker)
    bus.publish("evt.x", note("a"))
    bus.publish("evt.x", note("b"))
    opener = threading.Timer(0.1, blocker.gate.set)
    opener.start()
    bus.publish("evt.x", note("c"))  # blocks until the handler makes room
    opener.join(WAIT)
    wait_until(lambda: len(blocker.seen) == 4)
    assert blocker.seen == ["held", "a", "b", "c"]
    assert bus.dead_letters() == []
    assert sub.stats().high_water == 2


def test_many_blocked_publishers_never_overfill_the_queue(bus: Bus) -> None:
    seen: list[str] = []
    gate = threading.Event()

    def handler(envelope: Envelope) -> None:
        gate.wait(WAIT)
        seen.append(text_of(envelope))

    sub = bus.subscribe("evt.*", handler, maxsize=8, block_timeout=WAIT)
    errors: list[BaseException] = []

    def publisher(n: int) -> None:
        try:
            for i in range(50):
                bus.publish("evt.x", note(f"{n}-{i}"))
        except Backpressure as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: sub.pending == 8)
    gate.set()
    for t in threads:
        t.join(WAIT * 2)
    wait_until(lambda: len(seen) == 200)
    assert errors == []
    assert sub.stats().high_water == 8
    for n in range(4):  # FIFO per publisher survives the blocking
        mine = [s for s in seen if s.startswith(f"{n}-")]
        assert mine == [f"{n}-{i}" for i in range(50)]


def test_drop_oldest_evicts_the_lowest_priority_oldest(bus: Bus, blocker: Blocker) -> None:
    sub = bus.subscribe("evt.*", blocker, maxsize=3, overflow=Overflow.DROP_OLDEST)
    hold(bus, blocker)
    bus.publish("evt.x", note("low"), priority=Priority.LOW)
    bus.publish("evt.x", note("a"))
    bus.publish("evt.x", note("b"))
    bus.publish("evt.x", note("c"))  # full: evicts "low"
    bus.publish("evt.x", note("d"))  # full: evicts "a", the oldest of the lowest left
    assert sub.pending == 3
    assert [(d.reason, text_of(d.envelope)) for d in bus.dead_letters()] == [
        ("dropped_oldest", "low"),
        ("dropped_oldest", "a"),
    ]
    blocker.gate.set()
    wait_until(lambda: len(blocker.seen) == 4)
    assert blocker.seen == ["held", "b", "c", "d"]
    assert sub.stats().dropped == 2


def test_drop_new_refuses_the_newcomer_without_raising(bus: Bus, blocker: Blocker) -> None:
    sub = bus.subscribe("evt.*", blocker, maxsize=2, overflow=Overflow.DROP_NEW)
    hold(bus, blocker)
    for text in ("a", "b", "c", "d"):
        bus.publish("evt.x", note(text))
    assert [(d.reason, text_of(d.envelope)) for d in bus.dead_letters()] == [
        ("dropped_new", "c"),
        ("dropped_new", "d"),
    ]
    blocker.gate.set()
    wait_until(lambda: len(blocker.seen) == 3)
    assert blocker.seen == ["held", "a", "b"]
    assert sub.stats().dropped == 2
    assert bus.metrics()["evt.x"].dead_lettered == 2


def test_a_flood_keeps_memory_bounded(bus: Bus, blocker: Blocker) -> None:
    sub = bus.subscribe("evt.*", blocker, maxsize=16, overflow=Overflow.DROP_OLDEST)
    hold(bus, blocker)
    for i in range(5000):
        bus.publish("evt.x", note(str(i)))
    assert sub.pending == 16
    assert sub.stats().high_water == 16
    assert len(bus.dead_letters()) == 100  # dead_letter_limit: the record is bounded too
    assert bus.dead_letter_counts() == {"dropped_oldest": 5000 - 16}
    blocker.gate.set()
    wait_until(lambda: len(blocker.seen) == 17)
    assert blocker.seen[1:] == [str(i) for i in range(5000 - 16, 5000)]


def test_health_degrades_when_a_queue_is_nearly_full(bus: Bus, blocker: Blocker) -> None:
    bus.subscribe("evt.*", blocker, maxsize=10, name="laggard")
    hold(bus, blocker)
    for i in range(9):
        bus.publish("evt.x", note(str(i)))
    assert bus.health().status is HealthStatus.HEALTHY  # 90 % is not yet "more than 90 %"
    bus.publish("evt.x", note("9"))
    health = bus.health()
    assert health.status is HealthStatus.DEGRADED
    assert health.reasons == ("queue of 'laggard' is 100% full (10/10)",)
    assert health.detail["queued"] == 10


def test_a_full_responder_queue_refuses_requests(bus: Bus) -> None:
    gate = threading.Event()
    started = threading.Event()

    def slow(envelope: Envelope) -> None:
        started.set()
        gate.wait(WAIT)

    bus.handle("cmd.GetHealth", slow, maxsize=1, block_timeout=0.1)
    first = bus.request_async("cmd.GetHealth", GetHealth(), timeout=WAIT)
    assert started.wait(WAIT)
    second = bus.request_async("cmd.GetHealth", GetHealth(), timeout=WAIT)
    with pytest.raises(Backpressure):
        bus.send(GetHealth(), timeout=WAIT)
    assert [d.reason for d in bus.dead_letters()] == ["backpressure"]
    gate.set()
    first.result()
    second.result()
    assert bus.health().detail["pending_requests"] == 0
