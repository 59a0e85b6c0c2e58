"""What the artifacts view shows, as pure functions: the query syntax, sizes, ages, labels, and
how an artifact is previewed (Markdown, JSON, highlighted text or a hex summary).

No Textual here and no I/O, so every rule is testable on its own.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from engine.files.languages import language_for

if TYPE_CHECKING:
    from engine.pit.artifacts.models import ArtifactInfo

__all__ = [
    "ArtifactQuery",
    "PreviewKind",
    "display_name",
    "format_age",
    "format_size",
    "hex_summary",
    "language_of",
    "parse_query",
    "preview_kind",
    "producer_label",
    "short_type",
]

PreviewKind = Literal["markdown", "json", "text", "binary"]

#: ``type:`` shorthands; any other word without a slash means a family (``image`` → ``image/*``).
TYPE_SHORTHANDS = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "txt": "text/plain",
    "plain": "text/plain",
    "py": "text/x-python",
    "python": "text/x-python",
    "yaml": "application/yaml",
    "toml": "application/toml",
    "binary": "application/octet-stream",
}
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FILTERS = ("tag", "type", "producer", "since")

# Media types whose content is a language the editor highlights (besides a name's suffix).
_LANGUAGE_SUFFIX = {
    "application/json": ".json",
    "application/jsonl": ".json",
    "application/x-ndjson": ".json",
    "text/x-python": ".py",
    "application/x-python": ".py",
    "application/toml": ".toml",
    "application/yaml": ".yaml",
    "application/x-yaml": ".yaml",
    "text/markdown": ".md",
    "text/x-rust": ".rs",
    "text/x-go": ".go",
    "text/html": ".html",
    "text/css": ".css",
    "application/sql": ".sql",
    "text/x-java": ".java",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/x-sh": ".sh",
    "application/x-shellscript": ".sh",
    "text/x-sh": ".sh",
    "text/javascript": ".js",
    "application/javascript": ".js",
    "text/typescript": ".ts",
}


@dataclass(frozen=True)
class ArtifactQuery:
    """A search box's text split into full-text words and filters."""

    words: str = ""
    tags: tuple[str, ...] = ()
    media_type: str | None = None
    producer: str | None = None
    since: float | None = None


def _since(value: str, now: float) -> float:
    match = _AGE.match(value)
    if match:
        return now - float(match.group(1)) * _AGE_UNITS[match.group(2)]
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ValueError(
            f"since:{value}: give an age (30m, 12h, 7d, 2w) or a date (2026-11-01)"
        ) from None


def parse_query(text: str, now: float) -> ArtifactQuery:
    """Split ``text`` into words and ``tag:`` / ``type:`` / ``producer:`` / ``since:`` filters.

    A filter with nothing after its colon yet (the user is still typing) is left out; ``tag:``
    may repeat, the last of the others wins.

    Raises:
        ValueError: a ``since:`` value that is neither an age nor a date.
    """
    words: list[str] = []
    tags: list[str] = []
    found: dict[str, str] = {}
    for token in text.split():
        key, colon, value = token.partition(":")
        key = key.lower()
        if not colon or key not in _FILTERS:
            words.append(token)
        elif not value:
            continue
        elif key == "tag":
            tags.append(value)
        else:
            found[key] = value
    media_type = found.get("type")
    if media_type is not None and "/" not in media_type:
        media_type = TYPE_SHORTHANDS.get(media_type.lower(), f"{media_type.lower()}/*")
    since = _since(found["since"], now) if "since" in found else None
    return ArtifactQuery(
        words=" ".join(words),
        tags=tuple(dict.fromkeys(tags)),
        media_type=media_type,
        producer=found.get("producer"),
        since=since,
    )


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 MiB``…"""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def format_age(seconds: float) -> str:
    """A short age: ``just now``, ``45s ago``, ``3m ago``, ``5h ago``, ``2d ago``, ``6w ago``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return "just now"
    for limit, unit, suffix in (
        (60, 1, "s"),
        (3600, 60, "m"),
        (86400, 3600, "h"),
        (14 * 86400, 86400, "d"),
        (365 * 86400, 7 * 86400, "w"),
    ):
        if seconds < limit:
            return f"{int(seconds // unit)}{suffix} ago"
    return f"{int(seconds // (365 * 86400))}y ago"


def short_type(media_type: str) -> str:
    """``text/markdown`` → ``markdown``, ``application/x-python`` → ``python``."""
    base = media_type.split(";", 1)[0].strip()
    family, _, sub = base.partition("/")
    if family in ("text", "application") and sub:
        return sub.removeprefix("x-")
    return base


def display_name(info: ArtifactInfo) -> str:
    """The artifact's latest name (``report@2``), else its short hash."""
    return info.names[-1] if info.names else info.hash[:12]


def producer_label(info: ArtifactInfo) -> str:
    """Who made it, shortest useful form: a node (with its run), an extension, a model."""
    if not info.producers:
        return ""
    p = info.producers[-1]
    if p.node:
        return f"{p.node} ({p.run[:8]})" if p.run else p.node
    return p.extension or p.model or (p.run or "")


def _name_path(info: ArtifactInfo) -> PurePosixPath | None:
    if not info.names:
        return None
    return PurePosixPath(info.names[-1].rsplit("@", 1)[0].replace("\\", "/"))


def preview_kind(info: ArtifactInfo, data: bytes) -> PreviewKind:
    """How to preview: rendered Markdown, a JSON tree, highlighted text, or a hex summary."""
    from engine.pit.artifacts.media import is_text, looks_like_text

    base = info.media_type.split(";", 1)[0].strip().lower()
    path = _name_path(info)
    suffix = path.suffix.lower() if path else ""
    textual = is_text(base) or looks_like_text(data, complete=len(data) >= info.size)
    if not textual:
        return "binary"
    if base == "text/markdown" or suffix in (".md", ".markdown"):
        return "markdown"
    if base == "application/json" or base.endswith("+json") or suffix == ".json":
        return "json"
    return "text"


def language_of(info: ArtifactInfo, text: str) -> str | None:
    """The tree-sitter language to highlight a text artifact with (name, media type, ``#!``)."""
    first_line = text[: text.find("\n")] if "\n" in text else text
    path = _name_path(info)
    if path is not None and path.name:
        found = language_for(path, first_line)  # type: ignore[arg-type]
        if found:
            return found
    base = info.media_type.split(";", 1)[0].strip().lower()
    suffix = _LANGUAGE_SUFFIX.get(base)
    return language_for(PurePosixPath(f"artifact{suffix}"), first_line)  # type: ignore[arg-type]


_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


def hex_summary(data: bytes, size: int, *, rows: int = 16) -> str:
    """A hex dump of the first ``rows`` rows of 16 bytes, then how many more there are."""
    lines = []
    for offset in range(0, min(len(data), rows * 16), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if chr(b) in _PRINTABLE else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    shown = min(len(data), rows * 16)
    if size > shown:
        lines.append(f"… {size - shown:,} more bytes")
    return "\n".join(lines)
