"""Publish/subscribe on the in-process bus: routing, ordering, isolation, metrics and shutdown."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.bus import Bus, DeadLetter, Overflow, TopicMetrics
from engine.bus.topics import compile_pattern
from engine.types.errors import BusError
from engine.types.messages import (
    ConfigRejected,
    EngineStopped,
    Envelope,
    HealthStatus,
    Priority,
    event_topic,
)

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
    """An event carrying ``text`` (any event with a string field would do)."""
    return ConfigRejected(message=text)


def text_of(envelope: Envelope) -> str:
    payload = envelope.payload
    assert isinstance(payload, ConfigRejected)
    return payload.message


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus(f"pubsub{next(_names)}")
    yield bus
    bus.close()


class Blocker:
    """A handler that records messages and holds its thread on the first one until released."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def __call__(self, envelope: Envelope) -> None:
        self.started.set()
        self.gate.wait(WAIT)
        self.seen.append(text_of(envelope))


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("evt.*", "evt.ConfigChanged", True),
        ("evt.*", "evt.a.b", True),
        ("evt.*", "cmd.GetHealth", False),
        ("evt.*", "evt", False),
        ("cmd.Get*", "cmd.GetHealth", True),
        ("cmd.Get*", "cmd.SetConfigValue", False),
        ("*", "anything.at.all", True),
        ("evt.Config?hanged", "evt.ConfigChanged", True),
        ("evt.ConfigChanged", "evt.ConfigChanged", True),
        ("evt.ConfigChanged", "evt.ConfigChangedX", False),
        ("evt.configchanged", "evt.ConfigChanged", False),
    ],
)
def test_glob_patterns_match_dotted_topics(pattern: str, topic: str, matches: bool) -> None:
    assert compile_pattern(pattern)(topic) is matches


def test_subscribers_receive_only_matching_topics(bus: Bus) -> None:
    received: dict[str, list[str]] = {"evt.*": [], "cmd.Get*": [], "*": [], "evt.Exact": []}

    def recorder(sink: list[str]) -> Callable[[Envelope], None]:
        return lambda envelope: sink.append(envelope.topic)

    for pattern, sink in received.items():
        bus.subscribe(pattern, recorder(sink))
    # Non-matching topics go first: delivery is FIFO per subscription, so once the last
    # matching message arrived, anything wrongly routed would have arrived before it.
    for topic in ("cmd.SetX", "other", "evt.Exact", "cmd.GetHealth", "evt.Other"):
        bus.publish(topic, note(topic))
    wait_until(lambda: received["*"][-1:] == ["evt.Other"])
    wait_until(lambda: received["evt.*"][-1:] == ["evt.Other"])
    wait_until(lambda: received["cmd.Get*"] == ["cmd.GetHealth"])
    wait_until(lambda: received["evt.Exact"] == ["evt.Exact"])
    assert received["evt.*"] == ["evt.Exact", "evt.Other"]
    assert received["*"] == ["cmd.SetX", "other", "evt.Exact", "cmd.GetHealth", "evt.Other"]


def test_higher_priority_is_delivered_first(bus: Bus) -> None:
    handler = Blocker()
    bus.subscribe("evt.*", handler)
    bus.publish("evt.x", note("first"))
    assert handler.started.wait(WAIT)  # the handler now holds "first"; the rest must queue
    for text, priority in [
        ("low", Priority.LOW),
        ("normal-1", Priority.NORMAL),
        ("critical-1", Priority.CRITICAL),
        ("high", Priority.HIGH),
        ("normal-2", Priority.NORMAL),
        ("critical-2", Priority.CRITICAL),
    ]:
        bus.publish("evt.x", note(text), priority=priority)
    handler.gate.set()
    wait_until(lambda: len(handler.seen) == 7)
    assert handler.seen == [
        "first",
        "critical-1",
        "critical-2",
        "high",
        "normal-1",
        "normal-2",
        "low",
    ]


def test_messages_of_one_priority_arrive_in_publish_order(bus: Bus) -> None:
    seen: list[str] = []
    bus.subscribe("evt.seq", lambda env: seen.append(text_of(env)), maxsize=1000)
    sent = [str(i) for i in range(500)]
    for text in sent:
        bus.publish("evt.seq", note(text))
    wait_until(lambda: len(seen) == len(sent))
    assert seen == sent


def test_emit_publishes_on_the_event_topic(bus: Bus) -> None:
    got: list[Envelope] = []
    bus.subscribe("evt.*", got.append)
    bus.emit(EngineStopped(reason="test"), priority=Priority.HIGH, source="unit")
    wait_until(lambda: len(got) == 1)
    assert got[0].topic == event_topic(EngineStopped) == "evt.EngineStopped"
    assert got[0].priority is Priority.HIGH
    assert got[0].source == "unit"


def test_failing_handler_is_dead_lettered_and_delivery_continues(bus: Bus) -> None:
    observed: list[DeadLetter] = []
    bus.on_dead_letter(observed.append)

    def broken_observer(letter: DeadLetter) -> None:
        raise RuntimeError("observer bug")

    bus.on_dead_letter(broken_observer)  # must not break the bus either
    seen: list[str] = []

    def handler(envelope: Envelope) -> None:
        if text_of(envelope) == "bad":
            raise ValueError("cannot handle bad")
        seen.append(text_of(envelope))

    sub = bus.subscribe("evt.*", handler)
    for text in ("ok-1", "bad", "ok-2"):
        bus.publish("evt.x", note(text))
    wait_until(lambda: seen == ["ok-1", "ok-2"])
    [letter] = bus.dead_letters()
    assert letter.reason == "handler_error"
    assert letter.error == "ValueError: cannot handle bad"
    assert text_of(letter.envelope) == "bad"
    assert observed == [letter]
    assert bus.dead_letter_counts() == {"handler_error": 1}
    assert sub.alive
    assert sub.stats().handler_errors == 1
    assert bus.metrics()["evt.x"].handler_errors == 1


def test_slow_subscriber_does_not_delay_a_fast_one(bus: Bus) -> None:
    slow = Blocker()
    fast: list[str] = []
    bus.subscribe("evt.*", slow, name="slow")
    bus.subscribe("evt.*", lambda env: fast.append(text_of(env)), name="fast")
    for i in range(50):
        bus.publish("evt.x", note(str(i)))
    wait_until(lambda: len(fast) == 50)  # while the slow handler is still stuck on the first
    assert slow.seen == []
    slow.gate.set()
    wait_until(lambda: len(slow.seen) == 50)


def test_publishing_to_a_topic_nobody_wants_is_counted_not_dead_lettered(bus: Bus) -> None:
    bus.publish("evt.nobody", note("x"))
    assert bus.dead_letters() == []
    assert bus.metrics()["evt.nobody"].published == 1


def test_metrics_count_traffic_and_report_percentiles(bus: Bus) -> None:
    done = threading.Event()
    count = 0

    def handler(envelope: Envelope) -> None:
        nonlocal count
        count += 1
        if count == 100:
            done.set()

    bus.subscribe("evt.m", handler)
    for i in range(100):
        bus.publish("evt.m", note(str(i)))
    assert done.wait(WAIT)
    wait_until(lambda: bus.metrics()["evt.m"].delivered == 100)
    m = bus.metrics()["evt.m"]
    assert isinstance(m, TopicMetrics)
    assert (m.published, m.delivered, m.handler_errors, m.dead_lettered) == (100, 100, 0, 0)
    assert m.samples == 100
    assert m.latency_p50_ms is not None
    assert m.latency_p95_ms is not None
    assert m.latency_p99_ms is not None
    assert 0 <= m.latency_p50_ms <= m.latency_p95_ms <= m.latency_p99_ms < WAIT * 1000
    assert m.request_p50_ms is None  # no requests on this topic


def test_latency_reservoir_is_bounded(bus: Bus) -> None:
    seen: list[int] = []
    bus.subscribe("evt.r", lambda env: seen.append(1), maxsize=3000)
    for i in range(2000):
        bus.publish("evt.r", note(str(i)))
    wait_until(lambda: len(seen) == 2000)
    wait_until(lambda: bus.metrics()["evt.r"].delivered == 2000)
    assert bus.metrics()["evt.r"].samples == 1024


def test_cancel_stops_delivery_and_dead_letters_what_was_queued(bus: Bus) -> None:
    handler = Blocker()
    sub = bus.subscribe("evt.*", handler, name="doomed")
    bus.publish("evt.x", note("in-flight"))
    assert handler.started.wait(WAIT)
    bus.publish("evt.x", note("queued-1"))
    bus.publish("evt.x", note("queued-2"))
    assert sub.pending == 2
    sub.cancel(timeout=0.0)  # the handler is still busy: do not wait for it here
    assert sub.pending == 0
    assert [text_of(d.envelope) for d in bus.dead_letters()] == ["queued-1", "queued-2"]
    assert {d.reason for d in bus.dead_letters()} == {"cancelled"}
    handler.gate.set()
    wait_until(lambda: not sub.alive)
    bus.publish("evt.x", note("after"))  # nobody subscribed any more: fine, not delivered
    assert handler.seen == ["in-flight"]
    sub.cancel()  # idempotent


def test_health_is_healthy_with_numbers(bus: Bus) -> None:
    seen: list[str] = []
    bus.subscribe("evt.*", lambda env: seen.append(env.topic))
    bus.publish("evt.h", note("x"))
    wait_until(lambda: len(seen) == 1)
    health = bus.health()
    assert health.name == "bus"
    assert health.status is HealthStatus.HEALTHY
    assert health.reasons == ()
    assert health.detail["subscriptions"] == 1
    assert health.detail["published"] == 1
    assert health.detail["dead_letters"] == 0


def test_recent_dead_letters_degrade_health(bus: Bus) -> None:
    bus.subscribe("evt.*", lambda env: 1 / 0)
    bus.publish("evt.x", note("x"))
    wait_until(lambda: len(bus.dead_letters()) == 1)
    health = bus.health()
    assert health.status is HealthStatus.DEGRADED
    assert any("1 dead letters" in r and "handler_error: 1" in r for r in health.reasons)


def test_close_delivers_queued_events_joins_threads_and_refuses_more() -> None:
    name = f"closing{next(_names)}"
    bus = Bus(name)
    seen: list[str] = []
    bus.subscribe("evt.*", lambda env: seen.append(text_of(env)), overflow=Overflow.DROP_NEW)
    bus.subscribe("*", lambda env: None)
    for i in range(20):
        bus.publish("evt.x", note(str(i)))
    assert any(t.name.startswith(f"symphony-bus-{name}:") for t in threading.enumerate())
    bus.close()
    assert len(seen) == 20
    assert not [t for t in threading.enumerate() if t.name.startswith(f"symphony-bus-{name}:")]
    with pytest.raises(BusError, match="closed"):
        bus.publish("evt.x", note("late"))
    with pytest.raises(BusError, match="closed"):
        bus.subscribe("evt.*", lambda env: None)
    assert bus.health().status is HealthStatus.UNHEALTHY
    bus.close()  # idempotent


def test_context_manager_closes_the_bus() -> None:
    with Bus(f"ctx{next(_names)}") as bus:
        bus.subscribe("*", lambda env: None)
    assert bus.closed


class Fatal(BaseException):
    """Not an Exception: the bus cannot treat it as a handler error."""


def test_a_dead_delivery_thread_makes_the_bus_unhealthy(bus: Bus) -> None:
    def handler(envelope: Envelope) -> None:
        raise Fatal("gone")

    sub = bus.subscribe("evt.*", handler, name="fragile")
    bus.publish("evt.x", note("kills it"))
    wait_until(lambda: not sub.alive)
    bus.publish("evt.x", note("after"))  # refused and recorded, not queued behind a dead thread
    assert sub.pending == 0
    assert bus.dead_letters()[-1].reason == "subscriber_died"
    health = bus.health()
    assert health.status is HealthStatus.UNHEALTHY
    assert "delivery thread of 'fragile' died: Fatal: gone" in health.reasons
