"""The IPC bus (SPEC §3.4): typed, authenticated, rate-limited messaging between processes.

A :class:`Server` (the engine) listens on a Unix socket in the user's private runtime folder,
on TCP loopback, or in memory; a :class:`Client` (an extension host, a tool) connects with the
session secret, and each side can then call the other (``call``), send events (``notify``) and
stream large payloads (``stream``). Wire format: docs/ipc-protocol.md.

Import from here; the sub-modules are implementation detail.
"""

from __future__ import annotations

from engine.ipc.auth import PeerCredentials, check_peer_uid
from engine.ipc.client import Client
from engine.ipc.discovery import (
    ENV_ADDRESS,
    ENV_SECRET,
    ENV_SECRET_FILE,
    child_env,
    ensure_private_dir,
    from_env,
    runtime_dir,
)
from engine.ipc.peer import Peer
from engine.ipc.protocol import PROTOCOL_VERSION, Code
from engine.ipc.ratelimit import TokenBucket
from engine.ipc.server import Server
from engine.ipc.settings import Settings
from engine.ipc.streams import StreamReader
from engine.ipc.transport import (
    MemoryTransport,
    TcpTransport,
    Transport,
    UnixTransport,
    transport_for,
)

__all__ = [
    "ENV_ADDRESS",
    "ENV_SECRET",
    "ENV_SECRET_FILE",
    "PROTOCOL_VERSION",
    "Client",
    "Code",
    "MemoryTransport",
    "Peer",
    "PeerCredentials",
    "Server",
    "Settings",
    "StreamReader",
    "TcpTransport",
    "TokenBucket",
    "Transport",
    "UnixTransport",
    "check_peer_uid",
    "child_env",
    "ensure_private_dir",
    "from_env",
    "runtime_dir",
    "transport_for",
]
