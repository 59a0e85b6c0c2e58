"""Real child processes on the bus: calls both ways, and dead or hung peers noticed in time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.ipc import Client, Server, Settings
from engine.types.errors import IpcError

from .conftest import WAIT, wait_until

BEAT = 0.25  # heartbeat of the death tests: dead after 3 beats = 0.75 s


def child_env(server: Server) -> dict[str, str]:
    return {**os.environ, **server.child_env()}


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_child_process_serves_and_calls_back(transport, make_server, spawn) -> None:
    server = make_server(transport)
    server.handle("server.add", lambda _peer, p: p[0] + p[1])
    child = spawn("client", "host", "5", env=child_env(server))
    assert child.line() == "ready"
    peer = server.wait_for_peer("host", WAIT)
    assert peer.call("child.pid") == child.proc.pid
    assert peer.call("child.echo", {"n": [1, 2]}) == {"n": [1, 2]}
    assert peer.call("child.ask_server", [20, 22]) == 42
    if transport == "unix" and sys.platform.startswith("linux"):
        assert peer.credentials is not None
        assert peer.credentials.pid == child.proc.pid


def test_a_killed_child_is_noticed_and_reported(make_server, spawn) -> None:
    gone: list[tuple[str, str]] = []
    server = make_server(
        "unix",
        settings=Settings(heartbeat_s=BEAT),
        on_disconnect=lambda peer, reason: gone.append((peer.name, reason)),
    )
    good = Client(server.address, server.secret, name="good").connect()
    child = spawn("client", "doomed", str(BEAT), env=child_env(server))
    assert child.line() == "ready"
    peer = server.wait_for_peer("doomed", WAIT)
    child.proc.send_signal(signal.SIGKILL)
    wait_until(lambda: gone)
    assert gone[0][0] == "doomed"
    assert peer.closed
    with pytest.raises(IpcError, match="closed"):
        peer.call("child.pid")
    assert good.call("echo", 1) == 1
    good.close()


def test_a_hung_child_is_dropped_after_three_silent_heartbeats(make_server, spawn) -> None:
    gone: list[str] = []
    server = make_server(
        "unix",
        settings=Settings(heartbeat_s=BEAT),
        on_disconnect=lambda _peer, reason: gone.append(reason),
    )
    child = spawn("client", "hung", str(BEAT), env=child_env(server))
    assert child.line() == "ready"
    server.wait_for_peer("hung", WAIT)
    time.sleep(BEAT * 4)  # alive and beating: not dropped
    assert gone == []
    child.proc.send_signal(signal.SIGSTOP)  # the socket stays open; only heartbeats stop
    try:
        started = time.monotonic()
        wait_until(lambda: gone, timeout=WAIT)
        noticed = time.monotonic() - started
    finally:
        child.proc.send_signal(signal.SIGKILL)
    assert "no heartbeat from 'hung'" in gone[0]
    assert noticed < WAIT  # bounded; about 3 to 3.5 heartbeats


def test_a_client_notices_its_server_hang(spawn) -> None:
    child = spawn("server", "unix", str(BEAT))
    hello = json.loads(child.line())
    reasons: list[str] = []
    client = Client(
        hello["address"],
        bytes.fromhex(hello["secret"]),
        settings=Settings(heartbeat_s=BEAT),
        on_disconnect=reasons.append,
    ).connect()
    try:
        assert client.call("echo", "hi") == "hi"
        child.proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: reasons)
        assert "no heartbeat from 'child'" in reasons[0]
    finally:
        child.proc.send_signal(signal.SIGKILL)
        client.close()


def test_another_user_cannot_even_reach_the_socket() -> None:
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("needs root to run a process as another user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 another user could run")
    # A parent anyone may enter, so only the server's own 0700 folder and 0600 socket stand
    # between the other user and the socket.
    parent = Path(tempfile.mkdtemp(prefix="symphony-ipc-test-"))
    try:
        parent.chmod(0o755)
        with Server("unix", folder=parent / "symphony") as server:
            server.handle("echo", lambda _peer, p: p)
            _check_other_user_is_refused(server, parent / "symphony", python)
    finally:
        shutil.rmtree(parent)


def _check_other_user_is_refused(server: Server, folder: Path, python: str) -> None:
    path = server.address.removeprefix("unix:")
    probe = "import socket, sys\nsocket.socket(socket.AF_UNIX).connect(sys.argv[1])"

    def connect_as_nobody() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-c", probe, path],
            user=65534,
            group=65534,
            capture_output=True,
            text=True,
            cwd="/",
            timeout=WAIT,
        )

    try:
        denied = connect_as_nobody()
    except PermissionError as e:
        pytest.skip(f"cannot run a process as nobody here: {e}")
    assert denied.returncode != 0
    assert "line 2, in <module>" in denied.stderr  # line 2 is the connect
    assert "PermissionError: [Errno 13]" in denied.stderr
    # Even with the folder opened up, the socket file's own mode (0600) refuses the connect.
    folder.chmod(0o755)
    denied = connect_as_nobody()
    assert "PermissionError: [Errno 13]" in denied.stderr
    with socket.socket(socket.AF_UNIX) as ours:  # while we, the owner, still get in
        ours.connect(path)
    with Client(server.address, server.secret) as good:
        assert good.call("echo", 5) == 5
