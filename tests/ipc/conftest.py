"""Fixtures for the IPC tests: servers and clients closed after each test, a hand-speaking
raw peer for attacks, child processes, and a check that no IPC thread outlives its test."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.ipc import Client, Server, Settings
from engine.ipc import handshake as handshake_module
from engine.ipc.frames import HEADER, ConnectionLost, FrameReader, FrameWriter
from engine.ipc.protocol import Frame, Welcome, decode
from engine.ipc.transport import connect

WAIT = 5.0
HERE = Path(__file__).parent
ROOT = HERE.parents[1]
TRANSPORTS = ["unix", "tcp", "memory"]


def wait_until(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    """Poll ``predicate`` until it holds; fail the test if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.005)


def ipc_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("symphony-ipc")]


@pytest.fixture(autouse=True)
def no_thread_outlives_its_test() -> Iterator[None]:
    """Every server and client a test made is closed by now, and took its threads along."""
    yield
    deadline = time.monotonic() + WAIT
    while ipc_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ipc_threads() == []


def echo(_peer: object, params: Any) -> Any:
    return params


@pytest.fixture
def make_server() -> Iterator[Callable[..., Server]]:
    """Start a server (``memory`` by default) that answers ``echo``; closed after the test."""
    servers: list[Server] = []

    def make(transport: str = "memory", **options: Any) -> Server:
        server = Server(transport, **options)
        server.handle("echo", echo)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    """Connect a client to a server; closed after the test."""
    clients: list[Client] = []

    def make(server: Server, name: str = "good", **options: Any) -> Client:
        client = Client(server.address, server.secret, name=name, **options)
        clients.append(client)
        return client.connect()

    yield make
    for client in clients:
        client.close()


class RawPeer:
    """A connection that speaks the protocol by hand, to misbehave precisely."""

    def __init__(self, address: str) -> None:
        self.sock = connect(address, WAIT)
        self.sock.settimeout(WAIT)
        self.reader = FrameReader(self.sock, 64 * 1024 * 1024)
        self.encoder = msgspec.msgpack.Encoder()

    def authenticate(self, secret: bytes, name: str = "raw") -> Welcome:
        writer = FrameWriter(self.sock, 4096)
        settings = Settings(handshake_timeout_s=WAIT)
        welcome = handshake_module.connect(
            self.sock, self.reader, writer, name=name, secret=secret, settings=settings
        )
        self.sock.settimeout(WAIT)
        return welcome

    def send(self, frame: Frame | dict[str, Any]) -> None:
        body = self.encoder.encode(frame)
        self.send_bytes(HEADER.pack(len(body)) + body)

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Frame | None:
        """The next frame, or ``None`` once the server closed the connection."""
        try:
            body = self.reader.read()
        except (ConnectionLost, ConnectionResetError):
            return None
        return decode(body)

    def read_until_closed(self) -> list[Frame]:
        frames: list[Frame] = []
        while (frame := self.read()) is not None:
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_peer() -> Iterator[Callable[[Server], RawPeer]]:
    peers: list[RawPeer] = []

    def make(server: Server) -> RawPeer:
        peer = RawPeer(server.address)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


class Child:
    """A child Python process running tests/ipc/peer_process.py."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "peer_process.py"), *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the child exited early: {self.stderr()}"
        return line.strip()

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def make(*args: str, env: dict[str, str] | None = None) -> Child:
        child = Child(list(args), env)
        children.append(child)
        return child

    yield make
    for child in children:
        child.stop()
