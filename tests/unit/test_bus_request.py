"""Request/reply on the in-process bus: replies, errors, timeouts, async replies and shutdown."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.bus import Bus, PendingReply
from engine.types.errors import BusError, BusTimeout, ConfigError, NoHandler, RemoteError
from engine.types.messages import (
    Ack,
    Envelope,
    ErrorReply,
    GetHealth,
    Kind,
    Message,
    SetConfigValue,
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


def key_of(envelope: Envelope) -> str:
    payload = envelope.payload
    assert isinstance(payload, SetConfigValue)
    return payload.key


def echo(envelope: Envelope) -> Message:
    return Ack(detail=key_of(envelope))


def ask(key: str) -> SetConfigValue:
    return SetConfigValue(key=key, value=1)


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus(f"request{next(_names)}")
    yield bus
    bus.close()


class Gate:
    """A responder answering with the request's key, holding its thread while the gate is shut."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def __call__(self, envelope: Envelope) -> Message:
        self.calls.append(key_of(envelope))
        self.started.set()
        self.gate.wait(WAIT)
        return Ack(detail=key_of(envelope))


def test_request_gets_the_responders_reply(bus: Bus) -> None:
    seen: list[Envelope] = []

    def handler(envelope: Envelope) -> Message:
        seen.append(envelope)
        return echo(envelope)

    bus.handle("cmd.SetConfigValue", handler)
    assert bus.request("cmd.SetConfigValue", ask("a"), source="unit") == Ack(detail="a")
    [envelope] = seen
    assert envelope.kind is Kind.REQUEST
    assert envelope.correlation_id
    assert envelope.timeout_ms == 5000
    assert envelope.source == "unit"
    assert bus.send(ask("b")) == Ack(detail="b")  # send() uses cmd.<ClassName>


def test_a_responder_returning_none_acks(bus: Bus) -> None:
    bus.handle("cmd.GetHealth", lambda env: None)
    assert bus.send(GetHealth()) == Ack()


def test_concurrent_requesters_each_get_their_own_reply(bus: Bus) -> None:
    bus.handle("cmd.SetConfigValue", echo)
    wrong: list[tuple[str, Message]] = []

    def client(prefix: str) -> None:
        for i in range(200):
            key = f"{prefix}-{i}"
            reply = bus.request("cmd.SetConfigValue", ask(key))
            if reply != Ack(detail=key):
                wrong.append((key, reply))

    threads = [threading.Thread(target=client, args=(f"c{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert wrong == []
    metrics = bus.metrics()["cmd.SetConfigValue"]
    assert metrics.published == metrics.delivered == 800
    assert metrics.request_p50_ms is not None
    assert metrics.request_p99_ms is not None


def test_no_responder_raises_no_handler_at_once_and_dead_letters(bus: Bus) -> None:
    start = time.monotonic()
    with pytest.raises(NoHandler, match=r"cmd\.GetHealth"):
        bus.send(GetHealth(), timeout=WAIT)
    assert time.monotonic() - start < 1.0
    [letter] = bus.dead_letters()
    assert letter.reason == "no_handler"
    assert letter.envelope.topic == "cmd.GetHealth"


def test_timeout_raises_bus_timeout_and_the_late_reply_is_dropped(bus: Bus) -> None:
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    start = time.monotonic()
    with pytest.raises(BusTimeout, match=r"'cmd\.SetConfigValue' within 0\.2 s") as caught:
        bus.request("cmd.SetConfigValue", ask("slow"), timeout=0.2)
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 0.2 + 0.8
    assert caught.value.retryable
    responder.gate.set()
    wait_until(lambda: bus.metrics()["cmd.SetConfigValue"].late_replies == 1)
    assert bus.health().detail["pending_requests"] == 0
    assert bus.request("cmd.SetConfigValue", ask("next")) == Ack(detail="next")


def test_a_request_that_expired_in_the_queue_is_not_run(bus: Bus) -> None:
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    first = bus.request_async("cmd.SetConfigValue", ask("first"), timeout=WAIT)
    assert responder.started.wait(WAIT)
    with pytest.raises(BusTimeout):
        bus.request("cmd.SetConfigValue", ask("stale"), timeout=0.05)
    responder.gate.set()
    assert first.result() == Ack(detail="first")
    wait_until(lambda: bus.metrics()["cmd.SetConfigValue"].expired == 1)
    assert responder.calls == ["first"]  # "stale" was skipped, never handled
    assert [d.reason for d in bus.dead_letters()] == ["expired"]


def test_symphony_error_becomes_remote_error_with_its_code(bus: Bus) -> None:
    def handler(envelope: Envelope) -> Message:
        raise ConfigError("must be a number", source="user", key="core.jobs")

    bus.handle("cmd.SetConfigValue", handler)
    with pytest.raises(RemoteError, match=r"user: core\.jobs: must be a number") as caught:
        bus.send(ask("core.jobs"))
    assert caught.value.remote_code == "config.invalid"
    assert bus.metrics()["cmd.SetConfigValue"].handler_errors == 1


def test_unexpected_exception_becomes_internal_error_and_the_bus_keeps_answering(
    bus: Bus,
) -> None:
    def handler(envelope: Envelope) -> Message:
        if key_of(envelope) == "boom":
            raise ValueError("kaboom")
        return echo(envelope)

    sub = bus.handle("cmd.SetConfigValue", handler)
    with pytest.raises(RemoteError, match="ValueError: kaboom") as caught:
        bus.send(ask("boom"))
    assert caught.value.remote_code == "internal"
    assert bus.send(ask("fine")) == Ack(detail="fine")
    assert sub.alive


def test_a_responder_returning_a_non_message_is_an_internal_error(bus: Bus) -> None:
    bus.handle("cmd.GetHealth", lambda env: "not a message")  # type: ignore[arg-type,return-value]
    with pytest.raises(RemoteError, match="returned str") as caught:
        bus.send(GetHealth())
    assert caught.value.remote_code == "internal"


def test_an_error_reply_returned_by_the_responder_raises_remote_error(bus: Bus) -> None:
    bus.handle("cmd.GetHealth", lambda env: ErrorReply(code="x.busy", message="busy"))
    with pytest.raises(RemoteError, match="busy") as caught:
        bus.send(GetHealth())
    assert caught.value.remote_code == "x.busy"


def test_only_one_responder_per_exact_topic(bus: Bus) -> None:
    bus.handle("cmd.GetHealth", lambda env: None)
    with pytest.raises(BusError, match="already has a responder"):
        bus.handle("cmd.GetHealth", lambda env: None)
    with pytest.raises(BusError, match="exact topic"):
        bus.handle("cmd.*", lambda env: None)


def test_cancelled_responder_frees_the_topic(bus: Bus) -> None:
    sub = bus.handle("cmd.GetHealth", lambda env: None)
    sub.cancel()
    with pytest.raises(NoHandler):
        bus.send(GetHealth())
    bus.handle("cmd.GetHealth", lambda env: Ack(detail="second"))
    assert bus.send(GetHealth()) == Ack(detail="second")


def test_request_async_result_and_callback_from_the_responder_thread(bus: Bus) -> None:
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    pending = bus.request_async("cmd.SetConfigValue", ask("a"), timeout=WAIT)
    assert not pending.done()
    calls: list[tuple[PendingReply, str]] = []
    called = threading.Event()

    def callback(reply: PendingReply) -> None:
        calls.append((reply, threading.current_thread().name))
        called.set()

    pending.add_done_callback(callback)
    responder.gate.set()
    assert called.wait(WAIT)
    assert pending.done()
    assert pending.result() == Ack(detail="a")
    [(reply, thread_name)] = calls
    assert reply is pending
    assert thread_name.endswith("cmd.SetConfigValue#1")  # the responder's delivery thread
    late: list[PendingReply] = []
    pending.add_done_callback(late.append)  # already done: called at once, on this thread
    assert late == [pending]
    assert len(calls) == 1


def test_request_async_times_out_without_a_waiter(bus: Bus) -> None:
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    failures: list[BaseException | None] = []
    called = threading.Event()
    start = time.monotonic()
    pending = bus.request_async("cmd.SetConfigValue", ask("a"), timeout=0.2)

    def callback(reply: PendingReply) -> None:
        failures.append(reply.exception())
        called.set()

    pending.add_done_callback(callback)
    assert called.wait(WAIT)
    assert time.monotonic() - start < 0.2 + 0.8
    [failure] = failures
    assert isinstance(failure, BusTimeout)
    with pytest.raises(BusTimeout):
        pending.result()
    responder.gate.set()


def test_result_with_a_short_wait_leaves_the_request_pending(bus: Bus) -> None:
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    pending = bus.request_async("cmd.SetConfigValue", ask("a"), timeout=WAIT)
    with pytest.raises(BusTimeout, match="yet"):
        pending.result(timeout=0.05)
    assert not pending.done()
    responder.gate.set()
    assert pending.result() == Ack(detail="a")


def test_close_fails_pending_requests_and_joins_threads() -> None:
    name = f"closing{next(_names)}"
    bus = Bus(name)
    responder = Gate()
    bus.handle("cmd.SetConfigValue", responder)
    pending = bus.request_async("cmd.SetConfigValue", ask("a"), timeout=WAIT)
    assert responder.started.wait(WAIT)
    queued = bus.request_async("cmd.SetConfigValue", ask("b"), timeout=WAIT)
    closer = threading.Thread(target=bus.close)
    closer.start()
    with pytest.raises(BusError, match="bus closed") as caught:
        pending.result()
    assert not isinstance(caught.value, BusTimeout)
    with pytest.raises(BusError, match="bus closed"):
        queued.result()
    responder.gate.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert responder.calls == ["a"]  # the queued request was not run after close
    assert "closed" in {d.reason for d in bus.dead_letters()}
    assert not [t for t in threading.enumerate() if t.name.startswith(f"symphony-bus-{name}:")]
    with pytest.raises(BusError, match="closed"):
        bus.send(GetHealth())


def test_cancelling_a_responder_fails_its_queued_requests(bus: Bus) -> None:
    responder = Gate()
    sub = bus.handle("cmd.SetConfigValue", responder)
    first = bus.request_async("cmd.SetConfigValue", ask("first"), timeout=WAIT)
    assert responder.started.wait(WAIT)
    queued = bus.request_async("cmd.SetConfigValue", ask("queued"), timeout=WAIT)
    start = time.monotonic()
    sub.cancel(timeout=0.0)
    with pytest.raises(NoHandler, match="cancelled"):
        queued.result()
    assert time.monotonic() - start < 1.0
    responder.gate.set()
    assert first.result() == Ack(detail="first")  # the one in hand is still answered
