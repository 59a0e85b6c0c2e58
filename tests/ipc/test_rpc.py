"""Calls both ways, events, errors, timeouts and shutdown — the same on every transport."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.ipc import Client, Code, Peer, Server, Settings
from engine.types.errors import (
    IpcError,
    IpcRemoteError,
    IpcTimeout,
    PermissionDenied,
)

from .conftest import TRANSPORTS, WAIT, wait_until


class Point(msgspec.Struct, frozen=True):
    x: int
    y: int


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_calls_go_both_ways_on_every_transport(transport, make_server, make_client) -> None:
    server = make_server(transport)
    server.handle("server.add", lambda _peer, p: p[0] + p[1])
    client = Client(server.address, server.secret, name="host")
    client.handle("host.upper", lambda _peer, text: text.upper())
    # The server asks the client, whose handler asks the server back before answering.
    client.handle("host.nested", lambda peer, p: peer.call("server.add", p) * 10)
    with client:
        assert client.call("echo", {"a": [1, 2.5, b"\x00", None]}) == {"a": [1, 2.5, b"\x00", None]}
        assert client.call("server.add", [2, 3]) == 5
        peer = server.wait_for_peer("host", WAIT)
        assert peer.call("host.upper", "abc") == "ABC"
        assert peer.call("host.nested", [4, 5]) == 90
        assert client.peer.name == server.name
        assert client.welcome is not None
        assert peer.session == client.welcome.session


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_the_address_and_secret_file_let_another_client_in(transport, make_server) -> None:
    server = make_server(transport)
    assert server.address.startswith(f"{transport}:")
    assert server.secret_path is not None
    secret = bytes.fromhex(server.secret_path.read_text())
    assert secret == server.secret
    with Client(server.address, secret, name="second") as client:
        assert client.call("echo", 7) == 7


def test_unix_socket_and_secret_file_are_private_and_removed_on_close(make_server) -> None:
    server = make_server("unix")
    sock_path = Path(server.address.removeprefix("unix:"))
    key_path = server.secret_path
    assert key_path is not None
    assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(sock_path.stat().st_mode)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock_path.parent.stat().st_mode) == 0o700
    assert sock_path.parent.name == "symphony"  # $XDG_RUNTIME_DIR/symphony
    server.close()
    assert not sock_path.exists()
    assert not key_path.exists()


def test_handler_errors_come_back_with_type_and_message(make_server, make_client) -> None:
    server = make_server()

    def broken(_peer: Peer, _params: Any) -> Any:
        raise ValueError("the disk is on fire")

    def denied(_peer: Peer, _params: Any) -> Any:
        raise PermissionDenied("ext.x", "fs.read", "~/.ssh/id_rsa")

    server.handle("broken", broken)
    server.handle("denied", denied)
    client = make_client(server)
    with pytest.raises(IpcRemoteError, match="ValueError: the disk is on fire") as caught:
        client.call("broken")
    assert caught.value.remote_code == Code.HANDLER_ERROR
    assert caught.value.remote_exception == "ValueError"
    with pytest.raises(IpcRemoteError, match=r"not allowed fs\.read") as caught:
        client.call("denied")
    assert caught.value.remote_code == "permission.denied"
    assert client.call("echo", "still serving") == "still serving"


def test_unknown_methods_and_bad_params_are_refused_by_name(make_server, make_client) -> None:
    server = make_server()
    server.handle("norm", lambda _peer, p: abs(p.x) + abs(p.y), params=Point)
    client = make_client(server)
    assert client.call("norm", {"x": 3, "y": -4}) == 7
    with pytest.raises(IpcRemoteError, match="no handler for method 'nope'") as caught:
        client.call("nope")
    assert caught.value.remote_code == Code.NO_SUCH_METHOD
    with pytest.raises(IpcRemoteError, match=r"Expected `int`, got `str` - at `\$.y`") as caught:
        client.call("norm", {"x": 1, "y": "far"})
    assert caught.value.remote_code == Code.INVALID_PARAMS
    assert client.call("echo", 1) == 1


def test_results_are_validated_into_the_type_asked_for(make_server, make_client) -> None:
    server = make_server()
    server.handle("point", lambda _peer, _p: Point(1, 2))
    client = make_client(server)
    assert client.call("point", result_type=Point) == Point(1, 2)
    with pytest.raises(IpcError, match="does not fit"):
        client.call("echo", "text", result_type=int)


def test_unencodable_and_oversized_results_become_error_replies(make_server, make_client) -> None:
    server = make_server(settings=Settings(max_frame_bytes=64 * 1024))
    server.handle("object", lambda _peer, _p: object())
    server.handle("huge", lambda _peer, _p: b"x" * 200_000)
    client = make_client(server, settings=Settings(max_frame_bytes=64 * 1024))
    with pytest.raises(IpcRemoteError, match="cannot be encoded"):
        client.call("object")
    with pytest.raises(IpcRemoteError, match="send large results as a stream") as caught:
        client.call("huge")
    assert caught.value.remote_code == Code.FRAME_TOO_LARGE
    with pytest.raises(IpcError, match="exceeds the limit"):
        client.call("echo", b"y" * 100_000)  # refused before sending; the connection goes on
    assert client.call("echo", 3) == 3


def test_a_slow_handler_times_the_call_out_and_the_server_goes_on(make_server, make_client) -> None:
    server = make_server()
    release = threading.Event()
    server.handle("slow", lambda _peer, _p: release.wait(WAIT))
    client = make_client(server)
    started = time.monotonic()
    with pytest.raises(IpcTimeout, match="no reply to 'slow'"):
        client.call("slow", timeout=0.2)
    assert time.monotonic() - started < WAIT
    assert client.call("echo", "after") == "after"
    release.set()
    # The late reply is dropped quietly; the connection is fine.
    assert client.call("echo", "later") == "later"


def test_events_reach_listeners_in_order_both_ways(make_server, make_client) -> None:
    server = make_server()
    got: list[tuple[str, Any]] = []
    server.on_event("progress.*", lambda _peer, topic, data: got.append((topic, data)))
    client = Client(server.address, server.secret, name="host")
    to_client: list[Any] = []
    client.on_event("config.changed", lambda _peer, _topic, data: to_client.append(data))
    with client.connect():
        for i in range(100):
            client.notify("progress.step", i)
        client.notify("other.topic", "ignored")
        wait_until(lambda: len(got) == 100)
        assert got == [("progress.step", i) for i in range(100)]
        server.wait_for_peer("host", WAIT)
        assert server.broadcast("config.changed", {"k": 1}) == 1
        wait_until(lambda: to_client == [{"k": 1}])


def test_inline_handlers_cannot_wait_on_their_own_reader(make_server, make_client) -> None:
    server = make_server()
    server.handle("fast", lambda _peer, p: p + 1, inline=True)
    server.handle("deadlock", lambda peer, _p: peer.call("x"), inline=True)
    client = make_client(server)
    assert client.call("fast", 1) == 2
    with pytest.raises(IpcRemoteError, match="own reader thread"):
        client.call("deadlock")


def test_connect_and_disconnect_callbacks(make_server) -> None:
    events: list[tuple[str, str]] = []
    server = make_server(
        on_connect=lambda peer: events.append(("connect", peer.name)),
        on_disconnect=lambda peer, reason: events.append(("disconnect", reason)),
    )
    client = Client(server.address, server.secret, name="host").connect()
    wait_until(lambda: events == [("connect", "host")])
    client.close()
    wait_until(lambda: len(events) == 2)
    assert events[1][0] == "disconnect"
    assert "closed the connection" in events[1][1]
    assert server.peers == []


def test_closing_the_server_fails_waiting_calls_and_tells_the_client(make_server) -> None:
    server = make_server("unix")
    release = threading.Event()
    server.handle("slow", lambda _peer, _p: release.wait(WAIT))
    reasons: list[str] = []
    client = Client(server.address, server.secret, on_disconnect=reasons.append).connect()
    failure: list[BaseException] = []

    def call() -> None:
        try:
            client.call("slow")
        except IpcError as e:
            failure.append(e)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: server.peers)
    time.sleep(0.05)  # let the request reach its handler
    started = time.monotonic()
    release.set()
    server.close()
    caller.join(WAIT)
    assert time.monotonic() - started < WAIT
    wait_until(lambda: reasons)
    assert "shutting down" in reasons[0]
    with pytest.raises(IpcError, match="closed"):
        client.call("echo", 1)
    client.close()
    assert not caller.is_alive()


def test_a_server_limits_how_many_peers_it_serves(make_server, make_client) -> None:
    server = make_server(max_peers=1)
    make_client(server, name="first")
    with pytest.raises(IpcError, match="too many peers"):
        make_client(server, name="second")
    assert server.wait_for_peer("first", WAIT).name == "first"


def test_nothing_listening_is_a_clear_error() -> None:
    with pytest.raises(IpcError, match="cannot connect to memory:nowhere"):
        Client("memory:nowhere", b"s").connect()
    with pytest.raises(IpcError, match="unknown IPC transport 'pigeon'"):
        Server("pigeon")
