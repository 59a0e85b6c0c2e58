"""Benchmark of the in-process bus against bare ``queue.SimpleQueue`` hand-offs (SPEC §7).

Two figures, each next to its baseline measured in the same run:

* request/reply latency (p50, p99) of ``Bus.request`` vs a SimpleQueue ping-pong between two
  threads, over the same number of round trips after the same warm-up;
* one-way throughput of ``Bus.publish`` to one subscriber (timed until the last message is
  handled) vs one thread feeding another through a SimpleQueue.

Run with ``python -m bench.bench_bus``. Nothing here fails on timing.
"""

from __future__ import annotations

import queue
import threading
import time

from bench.common import Figure, percentile, print_table
from engine.bus import Bus
from engine.types.messages import Ack, EngineStopped, Envelope, GetHealth, Message

ROUND_TRIPS = 20_000
WARMUP = 2_000
EVENTS = 200_000
_STOP = object()


def _simplequeue_round_trips(n: int) -> list[float]:
    """Latencies (µs) of n request/reply ping-pongs through two SimpleQueues."""
    requests: queue.SimpleQueue[object] = queue.SimpleQueue()
    replies: queue.SimpleQueue[object] = queue.SimpleQueue()
    reply = Ack()

    def serve() -> None:
        while requests.get() is not _STOP:
            replies.put(reply)

    server = threading.Thread(target=serve, name="bench-sq-server")
    server.start()
    payload = GetHealth()
    samples: list[float] = []
    clock = time.perf_counter
    try:
        for _ in range(WARMUP):
            requests.put(payload)
            replies.get()
        for _ in range(n):
            start = clock()
            requests.put(payload)
            replies.get()
            samples.append((clock() - start) * 1e6)
    finally:
        requests.put(_STOP)
        server.join()
    return samples


def _bus_round_trips(n: int) -> list[float]:
    """Latencies (µs) of n ``Bus.request`` round trips to a responder returning Ack."""
    reply = Ack()

    def answer(_envelope: Envelope) -> Message:
        return reply

    with Bus("bench") as bus:
        bus.handle("cmd.GetHealth", answer)
        payload = GetHealth()
        request = bus.request
        samples: list[float] = []
        clock = time.perf_counter
        for _ in range(WARMUP):
            request("cmd.GetHealth", payload)
        for _ in range(n):
            start = clock()
            request("cmd.GetHealth", payload)
            samples.append((clock() - start) * 1e6)
    return samples


def _simplequeue_throughput(n: int) -> float:
    """Messages/s from one thread to another through a SimpleQueue, until the last is taken."""
    channel: queue.SimpleQueue[object] = queue.SimpleQueue()
    finished = threading.Event()

    def consume() -> None:
        count = 0
        while channel.get() is not _STOP:
            count += 1
        finished.set()

    consumer = threading.Thread(target=consume, name="bench-sq-consumer")
    consumer.start()
    event = EngineStopped()
    start = time.perf_counter()
    for _ in range(n):
        channel.put(event)
    channel.put(_STOP)
    finished.wait()
    elapsed = time.perf_counter() - start
    consumer.join()
    return n / elapsed


def _bus_throughput(n: int) -> float:
    """Events/s published to one subscriber, timed until its handler has seen the last one."""
    finished = threading.Event()
    seen = 0

    def handler(_envelope: Envelope) -> None:
        nonlocal seen
        seen += 1
        if seen == n:
            finished.set()

    with Bus("bench") as bus:
        bus.subscribe("evt.EngineStopped", handler)
        event = EngineStopped()
        publish = bus.publish
        start = time.perf_counter()
        for _ in range(n):
            publish("evt.EngineStopped", event)
        finished.wait(60)
        elapsed = time.perf_counter() - start
    return n / elapsed


def run() -> list[Figure]:
    """Measure the bus and its SimpleQueue baselines; return the figures."""
    sq = _simplequeue_round_trips(ROUND_TRIPS)
    bus = _bus_round_trips(ROUND_TRIPS)
    sq_rate = _simplequeue_throughput(EVENTS)
    bus_rate = _bus_throughput(EVENTS)
    return [
        Figure(
            "bus request/reply p50",
            percentile(bus, 50),
            "µs",
            "SimpleQueue ping-pong p50",
            percentile(sq, 50),
        ),
        Figure(
            "bus request/reply p99",
            percentile(bus, 99),
            "µs",
            "SimpleQueue ping-pong p99",
            percentile(sq, 99),
        ),
        Figure(
            "bus publish→deliver",
            bus_rate,
            "msg/s",
            "SimpleQueue one-way",
            sq_rate,
            lower_is_better=False,
        ),
    ]


if __name__ == "__main__":
    print_table(
        f"in-process bus ({ROUND_TRIPS:,} round trips, {EVENTS:,} events)",
        run(),
    )
