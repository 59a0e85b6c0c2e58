"""Benchmark of the IPC bus against a bare blocking socket with the same frames (SPEC §7).

For each transport (Unix socket, then TCP loopback) a child process is the client; this
process serves. Each figure sits next to its baseline measured in the same run:

* request/reply latency (p50, p99) of ``Client.call`` to a worker-pool handler (and to an
  inline one) vs a ping-pong of the same request/reply frames over a bare blocking socket
  answered by one plain thread;
* one-way throughput of ``Client.notify`` with 64-byte and 64 KiB payloads, timed until the
  server has taken the last one, vs the same event frames written to a bare blocking socket.

Rate limiting is switched off here: it measures the bus, not the limit. Run with
``python -m bench.bench_ipc``. Nothing here fails on timing.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from bench.common import Figure, percentile, print_table
from engine.ipc import Client, Server, Settings
from engine.ipc.protocol import Event, Reply, Request, decode
from engine.ipc.transport import connect

ROUND_TRIPS = 20_000
WARMUP = 2_000
SMALL_EVENTS, SMALL = 50_000, b"s" * 64
LARGE_EVENTS, LARGE = 2_000, b"L" * 65_536
TITLE = f"IPC bus ({ROUND_TRIPS:,} round trips; client in a child process)"
UNLIMITED = Settings(rate_limit_per_s=1e12, rate_burst=1_000_000_000)
ROOT = Path(__file__).resolve().parents[1]
_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()


# --- the bare baseline: plain blocking sockets, the same frames --------------------------------


class _Frames:
    """Minimal buffered reader of length-prefixed frames from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf, self.pos = sock, b"", 0

    def read(self) -> bytes | None:
        buf, pos = self.buf, self.pos
        while True:
            if len(buf) - pos >= 4:
                (size,) = _HEADER.unpack_from(buf, pos)
                if len(buf) - pos - 4 >= size:
                    self.buf, self.pos = buf, pos + 4 + size
                    return buf[pos + 4 : pos + 4 + size]
            data = self.sock.recv(1 << 16)
            if not data:
                return None
            buf, pos = buf[pos:] + data, 0


def _send(sock: socket.socket, frame: msgspec.Struct) -> None:
    body = _encoder.encode(frame)
    sock.sendall(_HEADER.pack(len(body)) + body)


def _bare_serve(sock: socket.socket) -> None:
    """Answer requests (echo, or the event count) and count events until EOF."""
    frames, count = _Frames(sock), 0
    with sock:
        while (body := frames.read()) is not None:
            frame = decode(body)
            if isinstance(frame, Event):
                count += 1
            elif isinstance(frame, Request):
                result = count if frame.method == "count" else frame.params
                count = 0 if frame.method == "count" else count
                _send(sock, Reply(id=frame.id, result=result))


def _bare_listen(transport: str, folder: Path) -> tuple[socket.socket, str]:
    if transport == "unix":
        path = folder / "bare.sock"
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        address = f"unix:{path}"
    else:
        listener = socket.socket(socket.AF_INET)
        listener.bind(("127.0.0.1", 0))
        address = f"tcp:127.0.0.1:{listener.getsockname()[1]}"
    listener.listen(1)
    return listener, address


def _bare_accept(listener: socket.socket) -> None:
    sock, _ = listener.accept()
    if sock.family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _bare_serve(sock)


# --- the client side, run in a child process ---------------------------------------------------


def _round_trips(call: Any) -> list[float]:
    """Latencies (µs) of ROUND_TRIPS calls after WARMUP."""
    clock, samples = time.perf_counter, []
    for _ in range(WARMUP):
        call()
    for _ in range(ROUND_TRIPS):
        start = clock()
        call()
        samples.append((clock() - start) * 1e6)
    return samples


def _bare_client(address: str) -> dict[str, Any]:
    sock = connect(address, 5.0)
    frames = _Frames(sock)
    ids = iter(range(1 << 30))

    def request(method: str, params: Any) -> Any:
        _send(sock, Request(id=next(ids), method=method, params=params, timeout_ms=30000))
        body = frames.read()
        assert body is not None
        return decode(body)

    def one_way(n: int, payload: bytes) -> float:
        start = time.perf_counter()
        for _ in range(n):
            _send(sock, Event(topic="bench.data", data=payload))
        reply = request("count", None)
        assert isinstance(reply, Reply) and reply.result == n, reply
        return time.perf_counter() - start

    results = {
        "rr": _round_trips(lambda: request("echo", 1)),
        "small": one_way(SMALL_EVENTS, SMALL),
        "large": one_way(LARGE_EVENTS, LARGE),
    }
    sock.close()
    return results


def _ipc_client() -> dict[str, Any]:
    with Client.from_env(name="bench", settings=UNLIMITED) as client:

        def one_way(n: int, payload: bytes) -> float:
            start = time.perf_counter()
            for _ in range(n):
                client.notify("bench.data", payload)
            received = client.call("bench.count")
            assert received == n, received
            return time.perf_counter() - start

        return {
            "rr": _round_trips(lambda: client.call("echo", 1)),
            "rr_inline": _round_trips(lambda: client.call("echo.inline", 1)),
            "small": one_way(SMALL_EVENTS, SMALL),
            "large": one_way(LARGE_EVENTS, LARGE),
        }


def _child(bare_address: str) -> None:
    print(json.dumps({"bare": _bare_client(bare_address), "ipc": _ipc_client()}))


# --- the serving side ----------------------------------------------------------------------------


def _ipc_server(transport: str, folder: Path) -> Server:
    server = Server(transport, name="bench", settings=UNLIMITED, folder=folder)
    received = [0]

    def take(_peer: Any, _topic: str, _data: Any) -> None:
        received[0] += 1

    def count(_peer: Any, _params: Any) -> int:
        n, received[0] = received[0], 0
        return n

    server.handle("echo", lambda _peer, params: params)
    server.handle("echo.inline", lambda _peer, params: params, inline=True)
    server.handle("bench.count", count)
    server.on_event("bench.data", take)
    return server.start()


def measure(transport: str) -> dict[str, Any]:
    """Serve the bare socket and the IPC server; collect the child client's measurements."""
    with tempfile.TemporaryDirectory(prefix="bench-ipc-") as tmp:
        folder = Path(tmp)
        listener, bare_address = _bare_listen(transport, folder)
        bare = threading.Thread(target=_bare_accept, args=(listener,), name="bench-bare")
        bare.start()
        with _ipc_server(transport, folder / "ipc") as server:
            env = {**os.environ, **server.child_env()}
            child = subprocess.run(
                [sys.executable, "-m", "bench.bench_ipc", "--child", bare_address],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
        bare.join()
        listener.close()
    results: dict[str, Any] = json.loads(child.stdout)
    return results


def _figures(transport: str, r: dict[str, Any]) -> list[Figure]:
    ipc, bare = r["ipc"], r["bare"]
    floor = f"bare socket ping-pong ({transport})"
    one_way = f"bare socket one-way ({transport})"
    small_rate = (SMALL_EVENTS / ipc["small"], SMALL_EVENTS / bare["small"])
    megabytes = LARGE_EVENTS * len(LARGE) / 1e6
    large_rate = (megabytes / ipc["large"], megabytes / bare["large"])
    rr, rr_inline, floor_rr = ipc["rr"], ipc["rr_inline"], bare["rr"]
    return [
        Figure(
            f"IPC request/reply p50 ({transport})",
            percentile(rr, 50),
            "µs",
            f"{floor} p50",
            percentile(floor_rr, 50),
        ),
        Figure(
            f"IPC request/reply p99 ({transport})",
            percentile(rr, 99),
            "µs",
            f"{floor} p99",
            percentile(floor_rr, 99),
        ),
        Figure(
            f"IPC request/reply p50, inline handler ({transport})",
            percentile(rr_inline, 50),
            "µs",
            f"{floor} p50",
            percentile(floor_rr, 50),
        ),
        Figure(
            f"IPC one-way 64 B events ({transport})",
            small_rate[0],
            "msg/s",
            one_way,
            small_rate[1],
            lower_is_better=False,
        ),
        Figure(
            f"IPC one-way 64 KiB events ({transport})",
            large_rate[0],
            "MB/s",
            one_way,
            large_rate[1],
            lower_is_better=False,
        ),
    ]


def run() -> list[Figure]:
    """Measure the IPC bus over a Unix socket and TCP loopback; return the figures."""
    figures: list[Figure] = []
    for transport in ("unix", "tcp"):
        figures.extend(_figures(transport, measure(transport)))
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2])
    else:
        print_table(TITLE, run())
