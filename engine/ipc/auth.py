"""Authentication of IPC peers: session secrets, the HMAC challenge proofs, peer-uid checks.

Both sides prove they know the per-session secret without sending it: each sends a fresh random
nonce and answers the other's with HMAC-SHA256 over a label and both nonces (labels differ per
direction, so one side's proof is never valid for the other). On Linux, a Unix-socket peer's
uid is read with ``SO_PEERCRED`` and must be the server's. This module must not do socket I/O
beyond reading peer credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
from dataclasses import dataclass

from engine.ipc.protocol import NONCE_BYTES, PROTOCOL_VERSION
from engine.types.errors import IpcHandshakeError

SECRET_BYTES = 32
SERVER_LABEL = f"symphony-ipc/{PROTOCOL_VERSION} server\n".encode()
CLIENT_LABEL = f"symphony-ipc/{PROTOCOL_VERSION} client\n".encode()
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def new_secret() -> bytes:
    """A fresh per-session secret."""
    return secrets.token_bytes(SECRET_BYTES)


def new_nonce() -> bytes:
    """A fresh handshake nonce."""
    return secrets.token_bytes(NONCE_BYTES)


def server_proof(secret: bytes, client_nonce: bytes, server_nonce: bytes) -> bytes:
    """What the server sends in ``challenge.proof``."""
    return _mac(secret, SERVER_LABEL + client_nonce + server_nonce)


def client_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes, name: str) -> bytes:
    """What the client sends in ``auth.proof``; binds the name it gave in ``hello``."""
    return _mac(secret, CLIENT_LABEL + server_nonce + client_nonce + name.encode())


def _mac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def proofs_match(expected: bytes, received: bytes) -> bool:
    """Compare proofs in constant time."""
    return hmac.compare_digest(expected, received)


@dataclass(frozen=True)
class PeerCredentials:
    """Who is at the other end of a Unix socket, as the kernel saw it at ``connect()``."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials | None:
    """The peer's credentials on a Linux Unix socket; ``None`` elsewhere (TCP, other OSes)."""
    if not sys.platform.startswith("linux") or sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


def check_peer_uid(peer_uid: int, allowed_uid: int) -> None:
    """Refuse a peer running as another user.

    Raises:
        IpcHandshakeError: ``peer_uid`` is not ``allowed_uid``.
    """
    if peer_uid != allowed_uid:
        raise IpcHandshakeError(
            f"connection refused: the peer runs as uid {peer_uid},"
            f" this server accepts only uid {allowed_uid}"
        )


def own_uid() -> int:
    """This process's uid (-1 where there are no uids)."""
    return os.getuid() if hasattr(os, "getuid") else -1
