"""The IPC wire protocol: frame types, their msgpack codec, protocol constants and error codes.

Every frame is one msgpack map whose ``type`` key names the frame (a msgspec tagged union), so a
frame decodes to exactly one Struct or is rejected with a message naming the bad field. Unknown
keys are ignored (a newer peer may add fields); the protocol version is checked once, in the
handshake. docs/ipc-protocol.md describes the same thing for implementers in other languages;
keep the two in step. This module must not do I/O.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from engine.types.errors import IpcError

#: The version this code speaks; a peer with another version is refused in the handshake.
PROTOCOL_VERSION: Final = 1
#: Length of the random nonces of the handshake, in bytes.
NONCE_BYTES: Final = 32
#: Largest frame accepted before the handshake is over (hello, challenge, auth, welcome).
HANDSHAKE_MAX_FRAME: Final = 4096


class Code:
    """Error codes of :class:`Error` frames sent by the protocol layer itself.

    A handler that raises a :class:`~engine.types.errors.SymphonyError` sends its dotted code
    (``permission.denied``) instead; any other exception sends ``handler_error``.
    """

    VERSION_MISMATCH: Final = "version_mismatch"
    AUTH_FAILED: Final = "auth_failed"
    PEER_REFUSED: Final = "peer_refused"
    HANDSHAKE_TIMEOUT: Final = "handshake_timeout"
    TOO_MANY_PEERS: Final = "too_many_peers"
    MALFORMED_FRAME: Final = "malformed_frame"
    INVALID_FRAME: Final = "invalid_frame"
    UNEXPECTED_FRAME: Final = "unexpected_frame"
    FRAME_TOO_LARGE: Final = "frame_too_large"
    RATE_LIMITED: Final = "rate_limited"
    BUSY: Final = "busy"
    NO_SUCH_METHOD: Final = "no_such_method"
    STREAM_MISMATCH: Final = "stream_mismatch"
    INVALID_PARAMS: Final = "invalid_params"
    HANDLER_ERROR: Final = "handler_error"
    SHUTTING_DOWN: Final = "shutting_down"


#: Codes of connection errors (nil ``id``) after which the sender closes the connection.
CLOSING_CODES: Final = frozenset(
    {
        Code.VERSION_MISMATCH,
        Code.AUTH_FAILED,
        Code.PEER_REFUSED,
        Code.HANDSHAKE_TIMEOUT,
        Code.TOO_MANY_PEERS,
        Code.FRAME_TOO_LARGE,
        Code.SHUTTING_DOWN,
    }
)


class Frame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every frame; the ``type`` key carries the tag."""


# --- handshake -------------------------------------------------------------------------------


class Hello(Frame, frozen=True, kw_only=True, tag="hello"):
    """Client → server, first frame: who is connecting, with which protocol version."""

    version: int
    name: str
    nonce: bytes
    max_frame_bytes: int = 16 * 1024 * 1024


class Challenge(Frame, frozen=True, kw_only=True, tag="challenge"):
    """Server → client: the server's nonce and its proof that it knows the session secret."""

    version: int
    nonce: bytes
    proof: bytes


class Auth(Frame, frozen=True, kw_only=True, tag="auth"):
    """Client → server: the client's proof that it knows the session secret."""

    proof: bytes


class Welcome(Frame, frozen=True, kw_only=True, tag="welcome"):
    """Server → client: the handshake succeeded; the limits the server enforces."""

    session: str
    server: str
    heartbeat_s: float
    max_frame_bytes: int
    rate_limit_per_s: float
    rate_burst: int


# --- after the handshake ---------------------------------------------------------------------


class Request(Frame, frozen=True, kw_only=True, tag="request"):
    """Call ``method`` on the peer; answered by :class:`Reply`, :class:`Error` or a stream.

    ``window`` > 0 asks for a stream: the answer is :class:`Chunk` frames then :class:`End`,
    and the producer may have at most ``window`` chunks unacknowledged (see :class:`Credit`).
    """

    id: int
    method: str
    params: Any = None
    timeout_ms: int | None = None
    window: int = 0


class Reply(Frame, frozen=True, kw_only=True, tag="reply"):
    """The successful answer to the request with the same ``id``."""

    id: int
    result: Any = None


class Error(Frame, frozen=True, kw_only=True, tag="error"):
    """A failure: of the request with this ``id``, or of the connection when ``id`` is nil."""

    code: str
    message: str
    id: int | None = None
    exception: str = ""


class Event(Frame, frozen=True, kw_only=True, tag="event"):
    """A one-way message; nothing answers it."""

    topic: str
    data: Any = None


class Heartbeat(Frame, frozen=True, kw_only=True, tag="heartbeat"):
    """Sent by each side when it sent nothing else for one heartbeat interval."""


class Chunk(Frame, frozen=True, kw_only=True, tag="chunk"):
    """One piece of the stream answering request ``id``; ``seq`` counts from 0."""

    id: int
    seq: int
    data: bytes


class End(Frame, frozen=True, kw_only=True, tag="end"):
    """The stream answering request ``id`` is complete after ``chunks`` chunks."""

    id: int
    chunks: int


class Credit(Frame, frozen=True, kw_only=True, tag="credit"):
    """The consumer of stream ``id`` took ``chunks`` more chunks: the producer may send more."""

    id: int
    chunks: int


class Cancel(Frame, frozen=True, kw_only=True, tag="cancel"):
    """The caller gave up on request ``id`` (a stream closed early); stop producing it."""

    id: int


AnyFrame = (
    Hello
    | Challenge
    | Auth
    | Welcome
    | Request
    | Reply
    | Error
    | Event
    | Heartbeat
    | Chunk
    | End
    | Credit
    | Cancel
)


class _Probe(msgspec.Struct, kw_only=True):
    """Just enough of a rejected frame to address the error reply to its request."""

    type: Any = None
    id: Any = None


_decoder = msgspec.msgpack.Decoder(AnyFrame)
_probe = msgspec.msgpack.Decoder(_Probe)


def decode(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one frame body.

    Raises:
        ProtocolViolation: the bytes are not msgpack, name no known frame type, or a field has
            the wrong type (the message names the field, e.g. ``at `$.id```).
    """
    try:
        frame: Frame = _decoder.decode(data)
    except msgspec.ValidationError as e:
        raise ProtocolViolation(Code.INVALID_FRAME, f"invalid frame: {e}", _request_id(data)) from e
    except msgspec.DecodeError as e:
        raise ProtocolViolation(Code.MALFORMED_FRAME, f"malformed frame: {e}", None) from e
    return frame


def _request_id(data: bytes | bytearray | memoryview) -> int | None:
    """The ``id`` of a request frame that failed validation, if it has a usable one."""
    try:
        probe = _probe.decode(data)
    except msgspec.DecodeError:
        return None
    ok = probe.type == "request" and type(probe.id) is int
    return probe.id if ok else None


def wire_text(text: str) -> str:
    """``text`` made encodable as a msgpack str: lone surrogates (``os.fsdecode`` makes them
    from undecodable file names) become ``\\udcxx`` escapes instead of failing the frame."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class ProtocolViolation(IpcError):
    """A frame broke the protocol; ``wire_code`` is the :class:`Code` sent back to the peer.

    Attributes:
        wire_code: the error code for the :class:`Error` frame.
        request_id: the id of the request the frame was, when it can be told.
    """

    def __init__(self, wire_code: str, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.wire_code = wire_code
        self.request_id = request_id
