"""Media types of artifacts: guessing from a file name, sniffing content, deciding what is text.

The guess is deterministic on every machine: it uses Python's built-in table (never the host's
``/etc/mime.types``) plus a few modern types. This module must not do I/O.
"""

from __future__ import annotations

import codecs
import mimetypes

TEXT_PLAIN = "text/plain"
OCTET_STREAM = "application/octet-stream"
SNIFF_BYTES = 64 * 1024

_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/jsonl",
    ".log": TEXT_PLAIN,
    ".rst": "text/x-rst",
    ".ts": "text/typescript",
    ".rs": "text/x-rust",
    ".go": "text/x-go",
    ".ini": TEXT_PLAIN,
    ".cfg": TEXT_PLAIN,
    ".diff": "text/x-diff",
    ".patch": "text/x-diff",
}

_TEXT_APPLICATION = {
    "application/json",
    "application/jsonl",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/x-sh",
    "application/x-shellscript",
    "application/sql",
    "application/x-python",
    "application/x-python-code",
    "application/x-tex",
    "application/x-latex",
    "application/graphql",
    "application/x-ndjson",
}

_table: mimetypes.MimeTypes | None = None


def _types() -> mimetypes.MimeTypes:
    global _table
    if _table is None:
        # A fresh MimeTypes holds only Python's defaults, not the host's mime.types files.
        table = mimetypes.MimeTypes()
        for ext, media_type in _EXTRA_TYPES.items():
            table.add_type(media_type, ext)
        _table = table
    return _table


def guess_from_name(name: str | None) -> str | None:
    """The media type suggested by a file name's extension, or None."""
    if not name:
        return None
    media_type, _encoding = _types().guess_type(name, strict=False)
    return media_type


def looks_like_text(head: bytes, *, complete: bool) -> bool:
    """Whether the first bytes of some content are UTF-8 without NUL bytes.

    Args:
        head: the leading bytes (only the first :data:`SNIFF_BYTES` are examined).
        complete: ``head`` is the whole content (so a truncated UTF-8 sequence at the end is an
            error rather than the cut of the sample).
    """
    sample = head[:SNIFF_BYTES]
    if b"\x00" in sample:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete and len(head) <= SNIFF_BYTES)
    except UnicodeDecodeError:
        return False
    return True


def guess(name_hint: str | None, head: bytes, *, complete: bool) -> str:
    """Media type from the name's extension, else from the content.

    Args:
        name_hint: a file or artifact name whose extension may tell the type.
        head: the leading bytes of the content.
        complete: ``head`` is the whole content.
    """
    by_name = guess_from_name(name_hint)
    if by_name:
        return by_name
    return TEXT_PLAIN if looks_like_text(head, complete=complete) else OCTET_STREAM


def is_text(media_type: str) -> bool:
    """Whether content of this media type is text worth indexing for search."""
    base = media_type.split(";", 1)[0].strip().lower()
    if base.startswith("text/") or base in _TEXT_APPLICATION:
        return True
    return base.endswith(("+json", "+xml", "+yaml", "+toml"))
