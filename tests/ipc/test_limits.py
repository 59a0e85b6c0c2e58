"""Deadlines and bounds a misbehaving peer runs into: trickled handshakes, half-open connections,
queued bytes, slow readers, garbage while throttled, notice floods, and running out of file
descriptors. Each test lets one connection misbehave and checks that it, and only it, is cut off
or refused, while a good client keeps its service.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import threading
from typing import Any

import msgspec
import pytest

from engine.ipc import Client, Code, Settings
from engine.ipc.frames import HEADER
from engine.ipc.protocol import Error, Heartbeat, Hello, Reply, Request
from engine.types.errors import IpcError, IpcHandshakeError

from .conftest import WAIT, wait_until

MB = 1024 * 1024


def still_served(client: Client) -> None:
    assert client.call("echo", "still here") == "still here"


def trickle(sock: socket.socket, data: bytes, stop: threading.Event, every: float = 0.1) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart, until stopped or refused."""
    for i in range(len(data)):
        if stop.wait(every):
            return
        try:
            sock.send(data[i : i + 1])
        except OSError:
            return


def started(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


# --- H1: the handshake deadline is absolute, and half-open connections have their own cap -----


@pytest.mark.parametrize("transport", ["unix", "memory"])
def test_a_handshake_trickled_a_byte_at_a_time_is_cut_off_at_its_deadline(
    transport, make_server, make_client, raw_peer
) -> None:
    server = make_server(transport, settings=Settings(handshake_timeout_s=0.5))
    good = make_client(server)
    slow = raw_peer(server)
    hello = msgspec.msgpack.encode(Hello(version=1, name="slow", nonce=os.urandom(32)))
    stop = threading.Event()
    # One byte every 0.1 s: each receive succeeds well within the 0.5 s, the whole never does.
    sender = started(trickle, slow.sock, HEADER.pack(len(hello)) + hello[:-1], stop)
    try:
        frames = slow.read_until_closed()
    finally:
        stop.set()
        sender.join(WAIT)
    assert frames == [Error(code=Code.HANDSHAKE_TIMEOUT, message="no handshake within 0.5 s")]
    still_served(good)


def test_connections_in_their_handshake_do_not_take_the_places_of_peers(
    make_server, make_client, raw_peer
) -> None:
    settings = Settings(handshake_timeout_s=WAIT * 4)
    server = make_server("unix", settings=settings, max_peers=2, max_handshakes=4)
    for _ in range(3):
        raw_peer(server)  # connected, never says hello
    first = make_client(server, name="first")
    make_client(server, name="second")
    wait_until(lambda: len(server.peers) == 2)
    with pytest.raises(IpcHandshakeError, match="too many peers: this server serves at most 2"):
        make_client(server, name="third")
    still_served(first)


def test_a_client_gives_up_on_a_server_that_trickles_its_handshake() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def fake_server() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)  # the hello
            trickle(conn, HEADER.pack(100) + b"\x85" * 60, stop)  # never a whole frame

    server = started(fake_server)
    client = Client(f"tcp:127.0.0.1:{port}", b"s" * 32, settings=Settings(handshake_timeout_s=0.5))
    try:
        with pytest.raises(IpcHandshakeError, match=r"no handshake within 0\.5 s"):
            client.connect()
    finally:
        stop.set()
        server.join(WAIT)
        listener.close()
        client.close()


def test_an_authenticated_peer_trickling_a_frame_is_dropped_as_silent(
    make_server, make_client, raw_peer
) -> None:
    gone: list[str] = []
    server = make_server(
        settings=Settings(heartbeat_s=0.2), on_disconnect=lambda _peer, reason: gone.append(reason)
    )
    good = make_client(server, settings=Settings(heartbeat_s=0.2))
    slow = raw_peer(server)
    slow.authenticate(server.secret, name="slow")
    body = msgspec.msgpack.encode(Request(id=1, method="echo", params="x" * 200))
    stop = threading.Event()
    sender = started(trickle, slow.sock, HEADER.pack(len(body)) + body, stop)
    try:
        wait_until(lambda: gone)
    finally:
        stop.set()
        sender.join(WAIT)
    assert "no heartbeat from 'slow'" in gone[0]  # a byte every 0.1 s is not a frame
    still_served(good)


# --- H2: bounded memory per peer --------------------------------------------------------------


def test_the_bytes_a_peer_has_waiting_for_workers_are_bounded(
    make_server, make_client, raw_peer
) -> None:
    settings = Settings(workers=2, peer_workers=1, max_queued_bytes=1_000_000)
    server = make_server(settings=settings)
    release = threading.Event()
    server.handle("hang", lambda _peer, _p: release.wait(WAIT))
    good = make_client(server)
    hog = raw_peer(server)
    hog.authenticate(server.secret, name="hog")
    blob = b"x" * 300_000
    hog.send(Request(id=0, method="hang"))  # runs
    for i in range(1, 5):  # three wait (900 kB), the fourth would pass 1 MB and is refused
        hog.send(Request(id=i, method="hang", params=blob))
    refusal = hog.read()
    assert isinstance(refusal, Error)
    assert (refusal.id, refusal.code) == (4, Code.BUSY)
    assert "'hog' has waiting for a worker hold too many bytes (limit 1000000)" in refusal.message
    still_served(good)
    release.set()
    answers = [hog.read() for _ in range(4)]
    assert sorted(a.id for a in answers if isinstance(a, Reply)) == [0, 1, 2, 3]


# --- M3: a frame has a deadline as a whole, however slowly the peer keeps reading -------------


def test_a_peer_that_reads_too_slowly_is_dropped_and_the_others_get_their_events(
    make_server, raw_peer
) -> None:
    gone: list[tuple[str, str]] = []
    beat = Settings(heartbeat_s=0.2)  # a frame may take 0.6 s to go out
    server = make_server(
        "tcp", settings=beat, on_disconnect=lambda peer, reason: gone.append((peer.name, reason))
    )
    got: list[int] = []
    good = Client(server.address, server.secret, name="good", settings=beat)
    good.on_event("tick", lambda _peer, _topic, data: got.append(len(data)))
    slow = raw_peer(server)
    stop = threading.Event()

    def dribble() -> None:
        # Beats, and reads 64 KiB every 0.1 s: never silent, and each send makes progress
        # (so a timeout per send call never fires), but 12 MB would take many seconds.
        while not stop.wait(0.1):
            try:
                slow.send(Heartbeat())
                slow.sock.recv(64 * 1024)
            except OSError:
                return

    payload = b"x" * (12 * MB)
    with good.connect():
        slow.authenticate(server.secret, name="slow")
        wait_until(lambda: len(server.peers) == 2)  # welcomed is not yet registered
        reader = started(dribble)
        broadcaster = started(server.broadcast, "tick", payload)
        try:
            wait_until(lambda: gone)
            broadcaster.join(WAIT)
        finally:
            stop.set()
            reader.join(WAIT)
        assert gone[0][0] == "slow"
        assert re.search(r"the peer is not reading: a frame waited 0\.\d s to be sent", gone[0][1])
        assert not broadcaster.is_alive()
        wait_until(lambda: got == [len(payload)])
        assert [p.name for p in server.peers] == ["good"]


# --- L3, L4: garbage while throttled, and notices from a peer ---------------------------------


def test_invalid_requests_get_their_error_even_while_throttled(make_server, raw_peer) -> None:
    server = make_server(settings=Settings(rate_limit_per_s=1, rate_burst=1))
    peer = raw_peer(server)
    peer.authenticate(server.secret)
    peer.send(Request(id=1, method="echo", params=1))  # takes the only token
    peer.send({"type": "request", "id": 2, "method": 12})
    peer.send(Request(id=3, method="echo"))
    answers = {}
    for _ in range(3):
        frame = peer.read()
        assert isinstance(frame, Reply | Error)
        answers[frame.id] = frame
    assert answers[1] == Reply(id=1, result=1)
    assert isinstance(answers[2], Error)
    assert answers[2].code == Code.INVALID_FRAME
    assert "`$.method`" in answers[2].message
    assert isinstance(answers[3], Error)
    assert answers[3].code == Code.RATE_LIMITED


def test_notices_from_a_peer_are_logged_escaped_clipped_and_rate_limited(
    make_server, raw_peer, caplog
) -> None:
    server = make_server()
    peer = raw_peer(server)
    peer.authenticate(server.secret, name="noisy")
    forged = "x" * 100_000 + "\nCRITICAL:engine:forged line\x1b[2J"
    with caplog.at_level(logging.WARNING, logger="engine.ipc.peer"):
        for _ in range(50):
            peer.send(Error(code="whatever", message=forged))
        peer.send(Request(id=1, method="echo", params="after"))
        assert peer.read() == Reply(id=1, result="after")  # every notice was read before it
    notices = [r.getMessage() for r in caplog.records if "reports" in r.getMessage()]
    assert 1 <= len(notices) <= 10
    for notice in notices:
        assert notice.startswith("IPC peer 'noisy' reports: 'xxx")
        assert len(notice) < 1000
        assert "\n" not in notice
        assert "\x1b" not in notice
    assert f"({len(forged)} characters)" in notices[0]


# --- M5: out of file descriptors ----------------------------------------------------------------


def test_a_server_out_of_file_descriptors_backs_off_instead_of_spinning(spawn) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("needs /proc and RLIMIT_NOFILE")
    child = spawn("lowfd", "tcp", "5")
    hello = json.loads(child.line())
    host, _, port = hello["address"].removeprefix("tcp:").rpartition(":")
    lines: list[str] = []
    assert child.proc.stderr is not None
    drain = started(lambda stream: lines.extend(stream), child.proc.stderr)
    # More than the four spare descriptors: the rest stay pending and accept() fails (EMFILE).
    socks = [socket.create_connection((host, int(port)), timeout=WAIT) for _ in range(8)]
    try:
        wait_until(lambda: any("accept failed" in line for line in lines))
        threading.Event().wait(0.5)  # a spinning loop logs thousands of lines meanwhile
        assert child.proc.stdin is not None
        child.proc.stdin.close()  # the server closes: the back-off must not hold it up
        assert child.proc.wait(WAIT) == 0
        drain.join(WAIT)
    finally:
        for sock in socks:
            sock.close()
    failures = [line for line in lines if "accept failed" in line]
    assert "accept failed: [Errno 24] Too many open files" in failures[0]
    assert len(failures) <= 5, failures[-3:]


def test_the_handshake_cap_refuses_but_a_closed_handshake_frees_its_place(
    make_server, make_client, raw_peer
) -> None:
    server = make_server(settings=Settings(handshake_timeout_s=WAIT * 4), max_handshakes=1)
    waiting = raw_peer(server)
    refused = raw_peer(server)
    assert refused.read_until_closed() == [
        Error(
            code=Code.TOO_MANY_PEERS,
            message="too many connections in their handshake:"
            " this server takes at most 1 at a time",
        )
    ]
    waiting.close()
    # The place frees once the server notices; a client may be refused until then.
    clients: list[Client] = []

    def connects() -> bool:
        try:
            clients.append(make_client(server, name="later"))
        except IpcError:
            return False
        return True

    wait_until(connects)
    still_served(clients[0])
