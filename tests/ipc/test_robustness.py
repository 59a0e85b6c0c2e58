"""Attacks and accidents from one peer never take the server down or disturb another peer.

Each test connects a good client first, lets a second connection misbehave, and then makes a
real request from the good client.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from engine.ipc import Client, Code, Settings
from engine.ipc.auth import client_proof, new_nonce
from engine.ipc.frames import HEADER
from engine.ipc.protocol import PROTOCOL_VERSION, Auth, Challenge, Error, Hello, Reply, Request
from engine.types.errors import IpcHandshakeError

from .conftest import TRANSPORTS, WAIT, wait_until


def still_served(client: Client) -> None:
    assert client.call("echo", "still here") == "still here"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_garbage_bytes_before_the_handshake(transport, make_server, make_client, raw_peer) -> None:
    server = make_server(transport)
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.send_bytes(os.urandom(4096))
    frames = attacker.read_until_closed()
    assert [type(f) for f in frames] == [Error]
    assert frames[0].code in (Code.FRAME_TOO_LARGE, Code.MALFORMED_FRAME, Code.INVALID_FRAME)
    still_served(good)


def test_garbage_frames_after_the_handshake_get_errors_and_the_connection_goes_on(
    make_server, make_client, raw_peer
) -> None:
    server = make_server()
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.authenticate(server.secret)
    body = b"\xc1\xc1 not msgpack \xff"
    attacker.send_bytes(HEADER.pack(len(body)) + body)
    error = attacker.read()
    assert isinstance(error, Error)
    assert error.code == Code.MALFORMED_FRAME
    attacker.send(Request(id=1, method="echo", params="ok"))
    assert attacker.read() == Reply(id=1, result="ok")
    still_served(good)


def test_wrong_payload_types_are_named_and_the_connection_goes_on(
    make_server, make_client, raw_peer
) -> None:
    server = make_server()
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.authenticate(server.secret)
    attacker.send({"type": "request", "id": 7, "method": 12})
    error = attacker.read()
    assert isinstance(error, Error)
    assert (error.code, error.id) == (Code.INVALID_FRAME, 7)
    assert "`$.method`" in error.message
    attacker.send({"type": "request", "id": "seven", "method": "echo"})
    error = attacker.read()
    assert isinstance(error, Error)
    assert error.id is None
    assert "`$.id`" in error.message
    attacker.send({"type": "teleport", "id": 1})
    error = attacker.read()
    assert isinstance(error, Error)
    assert "teleport" in error.message
    # Unknown fields are tolerated.
    attacker.send({"type": "request", "id": 8, "method": "echo", "params": 1, "colour": "red"})
    assert attacker.read() == Reply(id=8, result=1)
    still_served(good)


def test_a_truncated_frame_ends_only_that_connection(make_server, make_client, raw_peer) -> None:
    reasons: list[str] = []
    server = make_server(on_disconnect=lambda _peer, reason: reasons.append(reason))
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.authenticate(server.secret, name="truncator")
    attacker.send_bytes(HEADER.pack(100) + b"\x85" + b"x" * 9)
    attacker.sock.shutdown(2)
    wait_until(lambda: reasons)
    assert "mid-frame (14 of 104 bytes)" in reasons[0]
    still_served(good)


@pytest.mark.parametrize("authenticated", [False, True], ids=["before-auth", "after-auth"])
def test_an_oversized_length_prefix_is_refused_before_reading_the_body(
    authenticated, make_server, make_client, raw_peer
) -> None:
    server = make_server(settings=Settings(max_frame_bytes=1024 * 1024))
    good = make_client(server)
    attacker = raw_peer(server)
    if authenticated:
        attacker.authenticate(server.secret)
    # Claims 4 GiB but sends nothing more: the server must answer without waiting for it.
    attacker.send_bytes(HEADER.pack(0xFFFFFFFF))
    frames = attacker.read_until_closed()
    assert len(frames) == 1
    assert isinstance(frames[0], Error)
    assert frames[0].code == Code.FRAME_TOO_LARGE
    assert "4294967295 bytes exceeds the limit" in frames[0].message
    still_served(good)


def test_a_wrong_protocol_version_is_refused_naming_both(
    make_server, make_client, raw_peer
) -> None:
    server = make_server()
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.send(Hello(version=PROTOCOL_VERSION + 1, name="future", nonce=new_nonce()))
    frames = attacker.read_until_closed()
    assert len(frames) == 1
    assert isinstance(frames[0], Error)
    assert frames[0].code == Code.VERSION_MISMATCH
    assert frames[0].message == (
        f"protocol version {PROTOCOL_VERSION + 1} is not supported:"
        f" this server speaks version {PROTOCOL_VERSION}"
    )
    still_served(good)


def test_a_bad_hmac_is_refused(make_server, make_client, raw_peer) -> None:
    server = make_server()
    good = make_client(server)
    attacker = raw_peer(server)
    nonce = new_nonce()
    attacker.send(Hello(version=PROTOCOL_VERSION, name="mallory", nonce=nonce))
    challenge = attacker.read()
    assert isinstance(challenge, Challenge)
    guess = client_proof(b"not the secret", challenge.nonce, nonce, "mallory")
    attacker.send(Auth(proof=guess))
    frames = attacker.read_until_closed()
    assert frames == [Error(code=Code.AUTH_FAILED, message="authentication failed")]
    # A proof made for another name is refused too: the name is bound into the proof.
    replay = raw_peer(server)
    replay.send(Hello(version=PROTOCOL_VERSION, name="mallory", nonce=nonce))
    challenge = replay.read()
    assert isinstance(challenge, Challenge)
    replay.send(Auth(proof=client_proof(server.secret, challenge.nonce, nonce, "good")))
    assert replay.read_until_closed()[0] == Error(
        code=Code.AUTH_FAILED, message="authentication failed"
    )
    assert [p.name for p in server.peers] == ["good"]
    still_served(good)


def test_a_client_with_the_wrong_secret_is_told_and_refused(make_server, make_client) -> None:
    server = make_server("unix")
    good = make_client(server)
    with pytest.raises(IpcHandshakeError, match="the server failed authentication"):
        Client(server.address, b"wrong secret", name="lost").connect()
    still_served(good)


def test_a_peer_that_says_nothing_is_dropped(make_server, make_client, raw_peer) -> None:
    server = make_server(settings=Settings(handshake_timeout_s=0.2))
    good = make_client(server)
    silent = raw_peer(server)
    frames = silent.read_until_closed()
    assert frames == [Error(code=Code.HANDSHAKE_TIMEOUT, message="no handshake within 0.2 s")]
    still_served(good)


def test_handshake_frames_after_the_handshake_are_refused(
    make_server, make_client, raw_peer
) -> None:
    server = make_server()
    good = make_client(server)
    attacker = raw_peer(server)
    attacker.authenticate(server.secret)
    attacker.send(Hello(version=PROTOCOL_VERSION, name="again", nonce=new_nonce()))
    error = attacker.read()
    assert isinstance(error, Error)
    assert error.code == Code.UNEXPECTED_FRAME
    attacker.send(Request(id=1, method="echo", params=2))
    assert attacker.read() == Reply(id=1, result=2)
    still_served(good)


def test_another_users_connection_is_refused_by_the_peer_uid_check(
    make_server, make_client
) -> None:
    if not hasattr(os, "getuid") or not sys.platform.startswith("linux"):
        pytest.skip("SO_PEERCRED is Linux-only")
    # The real kernel credentials of a real connection, checked against a uid that is not ours.
    server = make_server("unix", allowed_uid=os.getuid() + 4242)
    with pytest.raises(IpcHandshakeError, match=f"runs as uid {os.getuid()}"):
        make_client(server)
    assert server.peers == []
    # Our own uid on a normal server is let in, and the server knows the peer's pid.
    normal = make_server("unix")
    good = make_client(normal)
    peer = normal.wait_for_peer("good", WAIT)
    assert peer.credentials is not None
    assert (peer.credentials.uid, peer.credentials.pid) == (os.getuid(), os.getpid())
    still_served(good)


def test_a_flooding_peer_is_throttled_and_the_others_keep_their_service(
    make_server, make_client, raw_peer
) -> None:
    rate, burst = 400.0, 20
    server = make_server("unix", settings=Settings(rate_limit_per_s=rate, rate_burst=burst))
    good = make_client(server)
    flooder = raw_peer(server)
    flooder.authenticate(server.secret, name="flooder")
    total = 400
    answers: list[object] = []

    def flood() -> None:
        for i in range(total):
            flooder.send(Request(id=i, method="echo", params=i))

    def collect() -> None:
        while len(answers) < total and (frame := flooder.read()) is not None:
            answers.append(frame)

    sender = threading.Thread(target=flood)
    receiver = threading.Thread(target=collect)
    sender.start()
    receiver.start()
    latencies = []
    for i in range(10):  # a well-behaved peer, well within its own limit
        started = time.perf_counter()
        assert good.call("echo", i) == i
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    sender.join(WAIT * 2)
    receiver.join(WAIT * 2)
    refused = [a for a in answers if isinstance(a, Error)]
    served = [a for a in answers if isinstance(a, Reply)]
    assert len(answers) == total
    assert len(served) >= burst
    assert len(refused) > total / 3
    assert {e.code for e in refused} == {Code.RATE_LIMITED}
    assert refused[0].message == "rate limit exceeded: 400 msg/s, burst 20"
    assert max(latencies) < WAIT  # informative only: a generous bound, not a timing test
    still_served(good)


def test_a_peer_whose_calls_hang_cannot_take_every_worker(
    make_server, make_client, raw_peer
) -> None:
    settings = Settings(workers=4, peer_workers=2, max_inflight=3)
    server = make_server(settings=settings)
    release = threading.Event()
    server.handle("hang", lambda _peer, _p: release.wait(WAIT))
    good = make_client(server)
    hog = raw_peer(server)
    hog.authenticate(server.secret, name="hog")
    for i in range(6):  # 2 run, 3 wait, the 6th is refused
        hog.send(Request(id=i, method="hang"))
    refusal = hog.read()
    assert isinstance(refusal, Error)
    assert (refusal.id, refusal.code) == (5, Code.BUSY)
    assert "too many requests in flight from 'hog' (limit 3)" in refusal.message
    still_served(good)  # two workers are still free for everyone else
    release.set()
    answers = [hog.read() for _ in range(5)]
    assert sorted(a.id for a in answers if isinstance(a, Reply)) == [0, 1, 2, 3, 4]
