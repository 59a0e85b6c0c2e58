"""Text files for editing: decide whether bytes are text, decode them, and encode them back.

A file is read as UTF-8 (a byte-order mark is kept), falling back to Latin-1, which decodes any
bytes. Its newline style (the first line ending decides between ``\\n`` and ``\\r\\n``) is
remembered and the text is handed out with ``\\n`` line endings only, so an editor can work on
plain ``\\n`` text and :func:`encode_text` restores the file's own endings on save. A final
newline is part of the text, so it is kept as it was.

This module only converts; it never writes files (see :mod:`engine.files.atomic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BINARY_SNIFF_BYTES",
    "DecodedText",
    "decode_text",
    "detect_newline",
    "encode_text",
    "looks_binary",
]

#: How much of the start of a file is checked for NUL bytes.
BINARY_SNIFF_BYTES = 8192

Newline = Literal["\n", "\r\n"]
Encoding = Literal["utf-8", "utf-8-sig", "latin-1"]


@dataclass(frozen=True, kw_only=True)
class DecodedText:
    """A file's text with ``\\n`` line endings, and how to write it back."""

    text: str
    encoding: Encoding
    newline: Newline

    @property
    def lossy_guess(self) -> bool:
        """True when the bytes were not UTF-8 and Latin-1 was assumed."""
        return self.encoding == "latin-1"


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` (the start of a file) holds a NUL byte, as git decides."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def detect_newline(text: str) -> Newline:
    """``\\r\\n`` when the first line ending in ``text`` is CRLF, else ``\\n``."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def decode_text(data: bytes) -> DecodedText:
    """Decode a file's bytes as UTF-8 (keeping a BOM), else Latin-1."""
    encoding: Encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding = "latin-1"
        text = data.decode(encoding)
    newline = detect_newline(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return DecodedText(text=text, encoding=encoding, newline=newline)


def encode_text(text: str, *, encoding: Encoding, newline: Newline) -> tuple[bytes, Encoding]:
    """Encode editor text (``\\n`` endings) for the file; returns the bytes and the encoding used.

    Text that Latin-1 cannot hold (a character typed after a Latin-1 file was opened) is written
    as UTF-8 instead, so a save never fails on encoding; the caller tells the user.
    """
    if newline != "\n":
        text = text.replace("\n", newline)
    try:
        return text.encode(encoding), encoding
    except UnicodeEncodeError:
        return text.encode("utf-8"), "utf-8"
