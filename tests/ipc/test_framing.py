"""Framing and frame decoding, on socketpairs: many frames per read, big frames, limits, EOF."""

from __future__ import annotations

import re
import socket
import threading
import tracemalloc
from collections.abc import Iterator

import msgspec
import pytest

from engine.ipc.frames import HEADER, ConnectionLost, FrameReader, FrameTooLarge, FrameWriter
from engine.ipc.protocol import Code, Event, Heartbeat, ProtocolViolation, Request, decode


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_small_frames_are_read_many_per_receive_and_in_order(pair) -> None:
    a, b = pair
    writer, reader = FrameWriter(a, 1 << 20), FrameReader(b, 1 << 20)

    def send() -> None:
        for i in range(1000):
            writer.send(Event(topic="t", data=i))

    sender = threading.Thread(target=send)
    sender.start()
    frames = [decode(reader.read()) for _ in range(1000)]
    sender.join()
    assert frames == [Event(topic="t", data=i) for i in range(1000)]


def test_a_frame_larger_than_one_receive_is_read_whole(pair) -> None:
    a, b = pair
    payload = bytes(range(256)) * 40_000  # 10 MB
    writer, reader = FrameWriter(a, 16 << 20), FrameReader(b, 16 << 20)
    sender = threading.Thread(target=writer.send, args=(Event(topic="big", data=payload),))
    sender.start()
    frame = decode(reader.read())
    sender.join()
    assert frame == Event(topic="big", data=payload)


def test_the_length_prefix_is_checked_before_the_body_is_read(pair) -> None:
    a, b = pair
    reader = FrameReader(b, 1024)
    a.sendall(HEADER.pack(1025))  # no body follows: reading one would block forever
    b.settimeout(5)
    with pytest.raises(FrameTooLarge, match="frame of 1025 bytes exceeds the limit of 1024"):
        reader.read()


def test_a_frame_too_large_for_the_peer_is_not_sent(pair) -> None:
    a, b = pair
    writer = FrameWriter(a, 100)
    with pytest.raises(FrameTooLarge, match=r"event frame of \d+ bytes exceeds the limit of 100"):
        writer.send(Event(topic="t", data=b"x" * 200))
    writer.send(Heartbeat())
    assert decode(FrameReader(b, 100).read()) == Heartbeat()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the peer closed the connection"),
        (HEADER.pack(10) + b"abc", "mid-frame (7 of 14 bytes)"),
        (b"\x00\x00", "mid-frame (2 of 4 bytes)"),
    ],
)
def test_end_of_stream_is_clean_or_mid_frame(pair, data: bytes, message: str) -> None:
    a, b = pair
    a.sendall(data)
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionLost, match=re.escape(message)):
        FrameReader(b, 1024).read()


def test_a_large_frame_cut_short_is_reported(pair) -> None:
    a, b = pair
    a.sendall(HEADER.pack(200_000) + b"x" * 100_000)
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionLost, match="mid-frame"):
        FrameReader(b, 1 << 20).read()


def test_a_length_prefix_alone_does_not_make_the_reader_allocate_the_body(pair) -> None:
    a, b = pair
    reader = FrameReader(b, 64 << 20)
    a.sendall(HEADER.pack(64 << 20) + b"x" * 1000)  # claims 64 MiB, sends 1000 bytes
    a.shutdown(socket.SHUT_WR)
    tracemalloc.start()
    try:
        with pytest.raises(ConnectionLost, match=r"mid-frame \(1004 of 67108868 bytes\)"):
            reader.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak traced memory {peak / (1 << 20):.1f} MiB"


def test_decoding_names_the_bad_field_and_keeps_the_request_id() -> None:
    encode = msgspec.msgpack.encode
    with pytest.raises(ProtocolViolation, match=r"Expected `str`, got `int` - at `\$.method`") as e:
        decode(encode({"type": "request", "id": 3, "method": 4}))
    assert (e.value.wire_code, e.value.request_id) == (Code.INVALID_FRAME, 3)
    with pytest.raises(ProtocolViolation, match="malformed frame") as e:
        decode(b"\xc1")
    assert e.value.wire_code == Code.MALFORMED_FRAME
    frame = decode(encode({"type": "request", "id": 1, "method": "m", "future_field": [1]}))
    assert frame == Request(id=1, method="m")
