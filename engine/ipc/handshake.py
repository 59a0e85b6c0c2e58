"""The handshake, both sides: hello → challenge → auth → welcome, under one deadline.

The client says which protocol version it speaks and sends a nonce; the server answers with its
own nonce and an HMAC proof over both; the client checks that proof and answers with its own;
the server checks it in constant time and welcomes the client with its limits. Any refusal is
sent to the other side as an error frame naming the reason (both versions; "authentication
failed") before the connection is dropped. The deadline is absolute: a peer trickling its frames
a byte at a time is cut off when it passes, however often a byte arrives. This module must not
start threads.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, NoReturn, TypeVar

from engine.ipc import protocol
from engine.ipc.auth import client_proof, new_nonce, proofs_match, server_proof
from engine.ipc.frames import FrameTooLarge
from engine.ipc.protocol import (
    NONCE_BYTES,
    PROTOCOL_VERSION,
    Auth,
    Challenge,
    Code,
    Error,
    Frame,
    Hello,
    ProtocolViolation,
    Welcome,
)
from engine.types.errors import IpcError, IpcHandshakeError

if TYPE_CHECKING:
    import socket

    from engine.ipc.frames import FrameReader, FrameWriter
    from engine.ipc.settings import Settings

F = TypeVar("F", bound=Frame)


class _Link:
    """The socket and framing of a connection being set up, with the handshake's deadline."""

    def __init__(
        self, sock: socket.socket, reader: FrameReader, writer: FrameWriter, timeout: float
    ) -> None:
        self.sock, self.reader, self.writer = sock, reader, writer
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def expect(self, kind: type[F]) -> F:
        """Receive the next frame, which must be a ``kind``; refuse anything else."""
        if self.deadline <= time.monotonic():
            self.refuse(Code.HANDSHAKE_TIMEOUT, f"no handshake within {self.timeout:g} s")
        self.reader.deadline = self.deadline  # for the whole frame, not for each receive
        try:
            frame = protocol.decode(self.reader.read())
        except TimeoutError:
            self.refuse(Code.HANDSHAKE_TIMEOUT, f"no handshake within {self.timeout:g} s")
        except (FrameTooLarge, ProtocolViolation) as e:
            self.refuse(e.wire_code, f"handshake: {e}")
        if isinstance(frame, Error):
            raise IpcHandshakeError(f"refused by the other side: {frame.message}")
        if not isinstance(frame, kind):
            got = type(frame).__struct_config__.tag
            want = kind.__struct_config__.tag
            self.refuse(Code.UNEXPECTED_FRAME, f"handshake: expected a {want} frame, got {got}")
        return frame

    def send(self, frame: Frame) -> None:
        """Send a handshake frame; if the other side already hung up, report why it did."""
        try:
            self.writer.send(frame)
        except (IpcError, OSError) as e:
            refusal = self._pending_refusal()
            if refusal is not None:
                raise IpcHandshakeError(f"refused by the other side: {refusal}") from e
            raise

    def _pending_refusal(self) -> str | None:
        """The message of an error frame the other side sent before hanging up, if any."""
        try:
            self.reader.deadline = max(self.deadline, time.monotonic() + 0.01)
            frame = protocol.decode(self.reader.read())
        except (IpcError, OSError):
            return None
        return frame.message if isinstance(frame, Error) else None

    def refuse(self, code: str, message: str) -> NoReturn:
        """Tell the other side why (best effort) and raise :class:`IpcHandshakeError`."""
        # It may be gone already; we are dropping it either way.
        with contextlib.suppress(IpcError, OSError):
            self.writer.send(Error(code=code, message=message))
        raise IpcHandshakeError(message)

    def done(self) -> None:
        """Back to a plain blocking socket for the connection's reader thread."""
        self.reader.deadline = None
        self.sock.settimeout(None)


def accept(
    sock: socket.socket,
    reader: FrameReader,
    writer: FrameWriter,
    *,
    secret: bytes,
    settings: Settings,
) -> Hello:
    """Run the server side of the handshake up to the client's proof; return its hello.

    The client is authenticated but not yet welcomed: the caller sends :func:`welcome` (or
    refuses it with an error frame), so it can register the connection first.

    Raises:
        IpcHandshakeError: the client was refused (and told why).
        IpcError, OSError: the connection broke.
    """
    link = _Link(sock, reader, writer, settings.handshake_timeout_s)
    hello = link.expect(Hello)
    if hello.version != PROTOCOL_VERSION:
        link.refuse(
            Code.VERSION_MISMATCH,
            f"protocol version {hello.version} is not supported:"
            f" this server speaks version {PROTOCOL_VERSION}",
        )
    if len(hello.nonce) != NONCE_BYTES:
        link.refuse(Code.INVALID_FRAME, f"hello.nonce must be {NONCE_BYTES} bytes")
    nonce = new_nonce()
    proof = server_proof(secret, hello.nonce, nonce)
    link.send(Challenge(version=PROTOCOL_VERSION, nonce=nonce, proof=proof))
    auth = link.expect(Auth)
    if not proofs_match(client_proof(secret, nonce, hello.nonce, hello.name), auth.proof):
        link.refuse(Code.AUTH_FAILED, "authentication failed")
    link.done()
    return hello


def welcome(
    writer: FrameWriter, hello: Hello, *, settings: Settings, session: str, server: str
) -> None:
    """End the server side of the handshake: welcome the client :func:`accept` returned.

    Raises:
        IpcError: the connection broke.
    """
    writer.send(
        Welcome(
            session=session,
            server=server,
            heartbeat_s=settings.heartbeat_s,
            max_frame_bytes=settings.max_frame_bytes,
            rate_limit_per_s=settings.rate_limit_per_s,
            rate_burst=settings.rate_burst,
        )
    )
    writer.limit = hello.max_frame_bytes


def connect(
    sock: socket.socket,
    reader: FrameReader,
    writer: FrameWriter,
    *,
    name: str,
    secret: bytes,
    settings: Settings,
) -> Welcome:
    """Run the client side of the handshake and return the server's welcome.

    Raises:
        IpcHandshakeError: the server refused us (the message says why) or failed to prove
            that it knows the secret.
        IpcError, OSError: the connection broke.
    """
    link = _Link(sock, reader, writer, settings.handshake_timeout_s)
    nonce = new_nonce()
    link.send(
        Hello(
            version=PROTOCOL_VERSION,
            name=name,
            nonce=nonce,
            max_frame_bytes=settings.max_frame_bytes,
        )
    )
    challenge = link.expect(Challenge)
    if not proofs_match(server_proof(secret, nonce, challenge.nonce), challenge.proof):
        link.refuse(
            Code.AUTH_FAILED, "the server failed authentication: it does not know the secret"
        )
    link.send(Auth(proof=client_proof(secret, challenge.nonce, nonce, name)))
    welcome = link.expect(Welcome)
    if not welcome.heartbeat_s > 0:  # also refuses NaN
        link.refuse(Code.INVALID_FRAME, "welcome.heartbeat_s must be a positive number")
    writer.limit = welcome.max_frame_bytes
    link.done()
    return welcome
