"""``@path`` mentions in a chat message: the workspace files they name, attached as context.

``explain @src/app.py`` sends the file's text before the question. Shared by ``symphony chat``
and the TUI's chat panel so both attach the same way. A mention must name a text file inside
the workspace (symbolic links are followed, and must stay inside too), of at most
:data:`MAX_FILE_BYTES`, and all of a message's files together at most :data:`MAX_TOTAL_BYTES`;
anything else is a :class:`~engine.types.errors.UsageError` saying what is wrong. An ``@``
inside a word (``me@example.com``) is not a mention. This module must not talk to models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.types.errors import UsageError

__all__ = ["MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "Attachment", "Prepared", "attach", "mentions"]

#: Largest file a mention attaches, in bytes.
MAX_FILE_BYTES = 256 * 1024
#: Largest total of the files one message attaches, in bytes.
MAX_TOTAL_BYTES = 512 * 1024
#: Bytes looked at to tell a binary file (a NUL byte) from text.
_SNIFF = 8192

_MENTION = re.compile(r"(?:(?<=\s)|^)@([^\s@]+)")
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message: its workspace-relative path and text."""

    path: str
    text: str

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready to send: ``content`` holds the attached files, then the question."""

    question: str
    content: str
    attachments: tuple[Attachment, ...] = ()


def mentions(message: str) -> list[str]:
    """The paths ``message`` mentions, in order, each once (trailing punctuation kept; see
    :func:`attach` for how it is resolved)."""
    seen: list[str] = []
    for match in _MENTION.finditer(message):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def attach(message: str, workspace: Path) -> Prepared:
    """Read the files ``message`` mentions and put them before it.

    Raises:
        UsageError: a mentioned file is missing, outside the workspace, a folder, binary or
            too large.
    """
    root = workspace.resolve()
    found: list[Attachment] = []
    total = 0
    for raw in mentions(message):
        path, shown = _locate(raw, root)
        if any(a.path == shown for a in found):
            continue
        attachment = _read(path, shown)
        total += attachment.size
        if total > MAX_TOTAL_BYTES:
            raise UsageError(
                f"@{shown}: the mentioned files add up to more than {_kib(MAX_TOTAL_BYTES)},"
                " the most one message may attach"
            )
        found.append(attachment)
    if not found:
        return Prepared(question=message, content=message)
    parts = ["Files attached for context:"]
    for a in found:
        fence = _fence(a.text)
        body = a.text if a.text.endswith("\n") or not a.text else a.text + "\n"
        parts.append(f"File {a.path}:\n{fence}\n{body}{fence}")
    parts.append(f"Question:\n{message}")
    return Prepared(question=message, content="\n\n".join(parts), attachments=tuple(found))


def _locate(raw: str, root: Path) -> tuple[Path, str]:
    """The file a mention names: as written, else without trailing punctuation."""
    candidates = [raw]
    stripped = raw.rstrip(_TRAILING)
    if stripped and stripped != raw:
        candidates.append(stripped)
    for candidate in candidates:
        path = (root / Path(candidate).expanduser()).resolve()
        if path.exists():
            break
    else:
        raise UsageError(f"@{stripped or raw}: no such file in the workspace ({root})")
    try:
        shown = path.relative_to(root).as_posix()
    except ValueError:
        raise UsageError(
            f"@{candidate}: outside the workspace ({root}); only workspace files can be attached"
        ) from None
    if path.is_dir():
        raise UsageError(f"@{shown}: is a folder; mention the files in it one by one")
    return path, shown


def _read(path: Path, shown: str) -> Attachment:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(
                f"@{shown}: {_kib(size)} is more than the {_kib(MAX_FILE_BYTES)} a mention may"
                " attach"
            )
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"@{shown}: cannot read: {e.strerror or e}") from e
    if b"\0" in data[:_SNIFF]:
        raise UsageError(f"@{shown}: a binary file; only text files can be attached")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"@{shown}: not UTF-8 text; only text files can be attached") from None
    return Attachment(path=shown, text=text)


def _fence(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"
