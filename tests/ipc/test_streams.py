"""Streaming large payloads: order, bounded memory under flow control, early close, failures."""

from __future__ import annotations

import hashlib
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from engine.ipc import Code, Peer, Settings
from engine.types.errors import IpcError, IpcRemoteError, IpcTimeout

from .conftest import WAIT

MB = 1024 * 1024


def test_a_50_mb_stream_arrives_whole_with_bounded_memory(make_server, make_client) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB, reused: the producer holds no 50 MB either
    server = make_server("unix")
    server.handle_stream("artifact.read", lambda _peer, size: (block for _ in range(size)))
    client = make_client(server)
    expected = hashlib.sha256(block * 50).hexdigest()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        with client.stream("artifact.read", 50) as chunks:
            for chunk in chunks:
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunks.bytes_received == 50 * MB
    assert digest.hexdigest() == expected
    # Window 8 x 256 KiB on each side plus the 1 MiB block: far below the 50 MB payload.
    assert peak < 8 * MB, f"peak traced memory {peak / MB:.1f} MB"


def test_a_slow_reader_holds_the_producer_back(make_server, make_client) -> None:
    produced = 0

    def numbers(_peer: Peer, _params: Any) -> Iterator[bytes]:
        nonlocal produced
        for i in range(1000):
            produced += 1
            yield i.to_bytes(4, "big")

    server = make_server()
    server.handle_stream("numbers", numbers)
    client = make_client(server)
    with client.stream("numbers", window=4) as chunks:
        assert next(chunks) == (0).to_bytes(4, "big")
        time.sleep(0.2)  # a producer without flow control would be done by now
        assert produced <= 4 + 2  # the window, one waiting for credit, one being cut
        rest = list(chunks)
    assert [int.from_bytes(c, "big") for c in rest] == list(range(1, 1000))


def test_closing_a_stream_early_stops_the_producer(make_server, make_client) -> None:
    stopped = threading.Event()

    def endless(_peer: Peer, _params: Any) -> Iterator[bytes]:
        try:
            while True:
                yield b"z" * 1000
        finally:
            stopped.set()

    server = make_server()
    server.handle_stream("endless", endless)
    client = make_client(server)
    chunks = client.stream("endless")
    assert next(chunks) == b"z" * 1000
    chunks.close()
    assert stopped.wait(WAIT)
    with pytest.raises(IpcError, match="closed by its reader"):
        next(chunks)
    assert client.call("echo", 1) == 1


def test_a_failing_producer_fails_the_stream_with_its_error(make_server, make_client) -> None:
    def failing(_peer: Peer, _params: Any) -> Iterator[bytes]:
        yield b"first"
        raise OSError("disk read error")

    server = make_server()
    server.handle_stream("failing", failing)
    server.handle_stream("not-bytes", lambda _peer, _p: iter([42]))
    client = make_client(server)
    chunks = client.stream("failing")
    assert next(chunks) == b"first"
    with pytest.raises(IpcRemoteError, match="OSError: disk read error"):
        next(chunks)
    with pytest.raises(IpcRemoteError, match="must yield bytes, not int"):
        client.stream("not-bytes").read_all()


def test_stream_and_plain_methods_are_not_mixed_up(make_server, make_client) -> None:
    server = make_server()
    server.handle_stream("blob", lambda _peer, _p: iter([b"x"]))
    client = make_client(server)
    with pytest.raises(IpcRemoteError, match="answers with a stream") as caught:
        client.call("blob")
    assert caught.value.remote_code == Code.STREAM_MISMATCH
    with pytest.raises(IpcRemoteError, match="does not stream"):
        client.stream("echo").read_all()
    assert client.stream("blob").read_all() == b"x"


def test_a_stalled_producer_times_the_reader_out(make_server, make_client) -> None:
    release = threading.Event()

    def stalled(_peer: Peer, _params: Any) -> Iterator[bytes]:
        yield b"a"
        release.wait(WAIT)

    server = make_server()
    server.handle_stream("stalled", stalled)
    client = make_client(server)
    chunks = client.stream("stalled", timeout=0.2)
    assert next(chunks) == b"a"
    with pytest.raises(IpcTimeout, match="no data from stream 'stalled'"):
        next(chunks)
    release.set()
    assert client.call("echo", 2) == 2


def test_streams_work_from_the_server_to_the_client_too(make_server, make_client) -> None:
    server = make_server()
    client = make_client(server, name="host", settings=Settings(chunk_bytes=1000))
    client.handle_stream("host.log", lambda _peer, n: (b"line\n" * n for _ in range(3)))
    peer = server.wait_for_peer("host", WAIT)
    with peer.stream("host.log", 500) as chunks:
        pieces = list(chunks)
    assert b"".join(pieces) == b"line\n" * 1500
    assert max(len(p) for p in pieces) <= 1000  # cut to the producer's chunk size
