"""How connections and servers start, fail and end: results that cannot be encoded, a reader that
fails, closing from inside a callback, heartbeats of different lengths, calls made while
connecting or closing, close timeouts, and a client whose connection is gone.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.ipc import Client, Code, Peer, Server, Settings
from engine.ipc.protocol import Request
from engine.ipc.router import Route
from engine.types.errors import IpcError, IpcRemoteError

from .conftest import WAIT, echo, ipc_threads, wait_until

# What os.listdir() returns for a file named in Latin-1 on a UTF-8 system: not encodable.
SURROGATE_NAME = os.fsdecode(b"caf\xe9.txt")


# --- H3: whatever goes wrong while answering, the caller hears about it -----------------------


@pytest.mark.parametrize("inline", [False, True], ids=["worker", "inline"])
def test_results_msgpack_cannot_encode_become_error_replies(inline, make_server, make_client):
    gone: list[str] = []
    server = make_server(on_disconnect=lambda _peer, reason: gone.append(reason))
    server.handle("fs.list", lambda _peer, _p: [SURROGATE_NAME], inline=inline)
    server.handle("big", lambda _peer, _p: 2**64, inline=inline)

    def missing(_peer: Peer, _params: Any) -> Any:
        raise FileNotFoundError(f"no such file: {SURROGATE_NAME}")

    server.handle("missing", missing, inline=inline)
    client = make_client(server)
    with pytest.raises(IpcRemoteError, match=r"the result of 'fs\.list' cannot be encoded") as e:
        client.call("fs.list", timeout=WAIT)
    assert (e.value.remote_code, e.value.remote_exception) == (
        Code.HANDLER_ERROR,
        "UnicodeEncodeError",
    )
    with pytest.raises(IpcRemoteError, match="the result of 'big' cannot be encoded") as e:
        client.call("big", timeout=WAIT)
    assert e.value.remote_exception == "OverflowError"
    # A handler's own error message with a surrogate in it arrives escaped.
    with pytest.raises(IpcRemoteError, match=r"no such file: caf\\udce9\.txt") as e:
        client.call("missing", timeout=WAIT)
    assert e.value.remote_exception == "FileNotFoundError"
    assert client.call("echo", "still here") == "still here"
    assert [p.name for p in server.peers] == ["good"]
    assert gone == []


class FaultyServer(Server):
    """A server with a bug in routing, to make its reader thread fail unexpectedly."""

    def route(self, method: str) -> Route | None:
        if method == "explode":
            raise RuntimeError("a bug in routing")
        return super().route(method)


def test_an_unexpected_failure_of_the_reader_closes_the_connection_and_says_why(make_client):
    gone: list[tuple[str, str]] = []
    server = FaultyServer(
        "memory", on_disconnect=lambda peer, reason: gone.append((peer.name, reason))
    )
    server.handle("echo", echo)
    with server.start():
        client = make_client(server)
        other = make_client(server, name="other")
        wait_until(lambda: len(server.peers) == 2)
        with pytest.raises(IpcError, match="closed"):
            client.call("explode", timeout=WAIT)
        wait_until(lambda: gone)
        assert gone == [("good", "internal error: RuntimeError: a bug in routing")]
        assert [p.name for p in server.peers] == ["other"]
        assert other.call("echo", 1) == 1


# --- M1: closing the server from one of its own threads ----------------------------------------


@pytest.mark.parametrize("where", ["on_connect", "listener", "inline handler", "on_disconnect"])
def test_the_server_can_be_closed_from_its_own_callbacks(where: str, make_client) -> None:
    errors: list[BaseException] = []

    def close_server(*_args: Any) -> None:
        try:
            server.close()
        except Exception as e:
            errors.append(e)

    server = Server(
        "unix",
        on_connect=close_server if where == "on_connect" else None,
        on_disconnect=close_server if where == "on_disconnect" else None,
    )
    server.on_event("app.quit", close_server)
    server.handle("quit", lambda _peer, _p: close_server(), inline=True)
    try:
        server.start()
        key, sock = server.secret_path, server.address.removeprefix("unix:")
        assert key is not None
        client = make_client(server)
        if where == "listener":
            client.notify("app.quit")
        elif where == "inline handler":
            with pytest.raises(IpcError):
                client.call("quit", timeout=WAIT)
        elif where == "on_disconnect":
            client.close()
        wait_until(lambda: not key.exists())
        assert not Path(sock).exists()
        assert errors == []
        wait_until(lambda: client.closed)
    finally:
        server.close()


# --- M2: heartbeats of different lengths ----------------------------------------------------


def test_a_client_with_a_shorter_heartbeat_keeps_an_idle_healthy_server(
    make_server, make_client
) -> None:
    reasons: list[str] = []
    server = make_server(settings=Settings(heartbeat_s=0.5))
    client = make_client(server, settings=Settings(heartbeat_s=0.05), on_disconnect=reasons.append)
    # Idle: the server beats every 0.5 s, far more than 3 x 0.05 s apart. It is dead to this
    # client only after 3 of its own intervals (1.5 s), which cannot pass here.
    time.sleep(0.6)
    assert reasons == []
    assert client.call("echo", 1) == 1


# --- M6: calls made while connecting, and calls waiting when a connection closes -------------


def test_a_call_from_on_connect_fails_at_once_and_the_peer_stays(make_server) -> None:
    outcome: list[BaseException] = []

    def greet(peer: Peer) -> None:
        try:
            peer.call("host.version", timeout=WAIT * 4)
        except IpcError as e:
            outcome.append(e)

    server = make_server(on_connect=greet)
    client = Client(server.address, server.secret, name="host")
    client.handle("host.version", lambda _peer, _p: "1.0")
    with client.connect():
        wait_until(lambda: outcome)
        assert "own reader thread" in str(outcome[0])
        assert client.call("echo", 1) == 1
        assert server.wait_for_peer("host", WAIT).call("host.version") == "1.0"


def test_closing_a_connection_fails_its_waiting_calls_at_once(make_server) -> None:
    server = make_server()
    release = threading.Event()
    server.handle("hang", lambda _peer, _p: release.wait(WAIT * 2))
    client = Client(server.address, server.secret, name="host")
    busy = threading.Event()

    def stuck_listener(_peer: Peer, _topic: str, _data: Any) -> None:
        busy.set()
        release.wait(WAIT * 2)

    client.on_event("block", stuck_listener)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            client.call("hang", timeout=WAIT * 4)
        except IpcError as e:
            failures.append(e)

    client.connect()
    caller = threading.Thread(target=call)
    try:
        caller.start()
        server.wait_for_peer("host", WAIT).notify("block")
        assert busy.wait(WAIT)  # the client's reader is held up in a listener
        client.peer.close("bye")
        caller.join(WAIT)
        assert not release.is_set()
        assert len(failures) == 1
        assert "closed: bye" in str(failures[0])
    finally:
        release.set()
        caller.join(WAIT)
        client.close()


# --- L1: close(timeout) is a total -------------------------------------------------------------


def test_closing_with_stuck_handlers_takes_about_the_timeout_in_all(make_server, raw_peer):
    server = make_server(settings=Settings(workers=8, peer_workers=8))
    release = threading.Event()
    running: list[int] = []

    def hang(_peer: Peer, _params: Any) -> Any:
        running.append(1)
        return release.wait(WAIT * 4)

    server.handle("hang", hang)
    peer = raw_peer(server)
    peer.authenticate(server.secret)
    for i in range(8):
        peer.send(Request(id=i, method="hang"))
    wait_until(lambda: len(running) == 8)
    started = time.monotonic()
    server.close(timeout=0.5)
    took = time.monotonic() - started
    release.set()
    # Joining each stuck worker for the whole timeout would take 8 x 0.5 s.
    assert took < 2.5, f"close(timeout=0.5) took {took:.1f} s"


# --- L2: a client whose connection is gone --------------------------------------------------


def test_a_client_whose_connection_ended_stops_its_threads_and_cannot_reconnect(
    make_server, make_client
) -> None:
    server = make_server()
    client = make_client(server, name="ext")
    server.wait_for_peer("ext", WAIT).close("kicked")
    wait_until(lambda: client.closed)
    wait_until(lambda: not [t for t in ipc_threads() if t.startswith("symphony-ipc-client-ext")])
    with pytest.raises(IpcError, match="client 'ext' is closed; create a new Client"):
        client.connect()
    client.close()
    with pytest.raises(IpcError, match="client 'ext' is closed; create a new Client"):
        client.connect()
