"""docs/ipc-protocol.md stays true to the code: its byte example, proofs, frames and codes."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from engine.ipc import Code
from engine.ipc.auth import client_proof, server_proof
from engine.ipc.frames import HEADER
from engine.ipc.protocol import AnyFrame, Hello, decode

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ipc-protocol.md"
HEX_PREFIX = re.compile(r"^\s*((?:[0-9a-f]{2} ?)+)")


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def example_block(after: str) -> str:
    text = page()
    start = text.index("```", text.index(after)) + 3
    return text[start : text.index("```", start)]


def test_the_worked_hello_example_is_what_the_code_sends() -> None:
    hexes = []
    for line in example_block("## Worked example").splitlines():
        match = HEX_PREFIX.match(line)
        if match:
            hexes.append(match.group(1))
    data = bytes.fromhex("".join(hexes))
    hello = Hello(version=1, name="host", nonce=bytes(range(32)), max_frame_bytes=16 * 1024**2)
    body = msgspec.msgpack.encode(hello)
    assert data == HEADER.pack(len(body)) + body
    assert decode(data[4:]) == hello


def test_the_proof_test_vector_matches_the_code() -> None:
    vectors = dict(re.findall(r"^(P[sc]) = ([0-9a-f]{64})$", page(), re.MULTILINE))
    secret, client_nonce, server_nonce = b"\x11" * 32, bytes(range(32)), bytes(range(32, 64))
    assert vectors["Ps"] == server_proof(secret, client_nonce, server_nonce).hex()
    assert vectors["Pc"] == client_proof(secret, server_nonce, client_nonce, "host").hex()


def test_every_frame_type_and_field_is_documented() -> None:
    text = page()
    for frame in AnyFrame.__args__:
        tag = frame.__struct_config__.tag
        assert f"| `{tag}` |" in text, f"frame type {tag!r} is not in a frame table"
        for field in frame.__struct_fields__:
            assert f"`{field}`" in text, f"field {field!r} of {tag!r} is not documented"


def test_every_error_code_is_documented() -> None:
    table = page().split("## Error codes", 1)[1].split("\n## ", 1)[0]
    codes = {value for name, value in vars(Code).items() if name.isupper()}
    documented = set(re.findall(r"^\| `([a-z_]+)`", table, re.MULTILINE))
    assert codes == documented
