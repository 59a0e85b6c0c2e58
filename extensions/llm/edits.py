"""The reply format of ``llm.edit``: how the model is asked for new file contents, and the strict
parser of its answer.

The model answers with the *whole* new content of each file it changes, one block per file::

    === FILE: src/app.py ===
    …every line of the new content…
    === END FILE ===

plus ``=== DELETE: path ===`` lines (when deleting is allowed), or the single line
``=== NO CHANGES ===``; text outside blocks is the summary. Marker lines were chosen over
Markdown fences because file contents (Markdown, docs, tests of a Markdown renderer) often hold
fences themselves; a model that still wraps a block's content in a fence has it removed.

Parsing is strict about structure — an unclosed block, a block inside a block, a malformed
marker, an unknown or repeated path, a reply with no block at all — and raises
:class:`EditFormatError` saying what is wrong and where, so a step fails clearly instead of
proposing a half-understood change. Leaving a file out is fine: it is unchanged.

This module does no I/O and never writes a file: it turns a reply into proposed changes.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "EditFormatError",
    "ParsedReply",
    "Proposal",
    "changes_of",
    "edit_prompt",
    "parse_reply",
    "sha256_text",
    "unfence",
]

FILE_RE = re.compile(r"^===\s*FILE:\s*(.+?)\s*===\s*$")
DELETE_RE = re.compile(r"^===\s*DELETE:\s*(.+?)\s*===\s*$")
END_RE = re.compile(r"^===\s*END FILE\s*===\s*$")
NO_CHANGES_RE = re.compile(r"^===\s*NO CHANGES\s*===\s*$")
#: A line that looks like one of ours but is none of the forms above.
MARKER_LIKE = re.compile(r"^===\s*(FILE|END|DELETE|NO CHANGES)\b")
FENCE_RE = re.compile(r"^(```|~~~)[\w+.-]*\s*$")
SUMMARY_LIMIT = 4000
END = "=== END FILE ==="


class EditFormatError(Exception):
    """The model's reply does not follow the edit format (the message says where)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the reply asks for one path: new content, or deletion (``content`` None)."""

    path: str
    content: str | None


@dataclass(slots=True)
class ParsedReply:
    proposals: list[Proposal] = field(default_factory=list)
    summary: str = ""
    no_changes: bool = False


def sha256_text(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


SYSTEM = """\
You edit files of a software project. You get an instruction and the current content of files.
Reply with the complete new content of every file you change, each in a block of exactly this form:

=== FILE: path/as/given.ext ===
the whole new content of the file: every line, not a diff, no code fences, no line numbers
=== END FILE ===

Rules:
- Use the paths exactly as given. Give a block only for files you change; leave the others out.
{extra}- If nothing needs to change, reply with the single line: === NO CHANGES ===
- After the blocks, write a short summary of what you changed (one to three sentences), outside
  any block.
"""


def edit_prompt(
    instruction: str,
    files: Mapping[str, str | None],
    *,
    allow_create: bool,
    allow_delete: bool,
    system: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages asking for ``instruction`` applied to ``files`` (path → text, None for
    a file that does not exist yet)."""
    extra = ""
    if allow_create:
        extra += "- To create a new file, give a FILE block with its new path.\n"
    if allow_delete:
        extra += "- To delete a file, write the line: === DELETE: path ===\n"
    system_text = SYSTEM.format(extra=extra)
    if system:
        system_text += "\n" + system.strip() + "\n"
    parts = [f"Instruction:\n{instruction.strip()}\n", "Files:\n"]
    for path, text in files.items():
        if text is None:
            parts.append(f"=== FILE: {path} ===\n(this file does not exist yet)\n{END}\n")
        else:
            body = text if text.endswith("\n") or not text else text + "\n"
            parts.append(f"=== FILE: {path} ===\n{body}{END}\n")
    return [
        {"role": "system", "content": system_text},
        {"role": "user", "content": "\n".join(parts)},
    ]


def _clean_path(raw: str, line: int) -> str:
    path = raw.strip().strip("`'\"").strip()
    normal = posixpath.normpath(path.replace("\\", "/")) if path else ""
    if not normal or normal == "." or normal.startswith(("/", "../")) or normal == "..":
        raise EditFormatError(f"line {line}: {raw.strip()!r} is not a workspace-relative path")
    return normal


def unfence(text: str, before: str | None) -> str:
    """A block's content without a Markdown fence wrapped around it — unless the file itself
    begins with a fence (a Markdown file), in which case the content is taken as it is."""
    lines = text.splitlines(keepends=True)
    if before is not None and FENCE_RE.match((before.splitlines() or [""])[0].strip()):
        return text
    if (
        len(lines) >= 2
        and FENCE_RE.match(lines[0].strip())
        and lines[-1].strip() in ("```", "~~~")
        and lines[0].lstrip().startswith(lines[-1].strip())
    ):
        return "".join(lines[1:-1])
    return text


def parse_reply(text: str) -> ParsedReply:
    """Split a reply into proposals and the summary.

    Raises:
        EditFormatError: the structure is broken (see the module docstring).
    """
    parsed = ParsedReply()
    summary: list[str] = []
    open_path: str | None = None
    open_at = 0
    body: list[str] = []
    seen: dict[str, int] = {}

    def claim(path: str, line: int) -> None:
        if path in seen:
            raise EditFormatError(
                f"line {line}: {path} appears a second time (first at line {seen[path]})"
            )
        seen[path] = line

    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        line = raw.rstrip("\r\n")
        if open_path is not None:
            if END_RE.match(line):
                parsed.proposals.append(Proposal(open_path, "".join(body)))
                open_path, body = None, []
            elif FILE_RE.match(line) or DELETE_RE.match(line):
                raise EditFormatError(
                    f"line {number}: a new block starts before the block of {open_path}"
                    f" (line {open_at}) was closed with === END FILE ==="
                )
            else:
                body.append(raw if raw.endswith("\n") else raw + "\n")
            continue
        if found := FILE_RE.match(line):
            open_path, open_at, body = _clean_path(found.group(1), number), number, []
            claim(open_path, number)
        elif found := DELETE_RE.match(line):
            path = _clean_path(found.group(1), number)
            claim(path, number)
            parsed.proposals.append(Proposal(path, None))
        elif NO_CHANGES_RE.match(line):
            parsed.no_changes = True
        elif END_RE.match(line):
            raise EditFormatError(f"line {number}: === END FILE === without a block to close")
        elif MARKER_LIKE.match(line):
            raise EditFormatError(
                f"line {number}: malformed marker {line.strip()[:80]!r}"
                " (expected '=== FILE: path ===', '=== END FILE ===' or '=== DELETE: path ===')"
            )
        elif not FENCE_RE.match(line.strip()) and line.strip() not in ("```", "~~~"):
            summary.append(line)
    if open_path is not None:
        raise EditFormatError(
            f"the block of {open_path} (line {open_at}) is never closed with === END FILE ==="
            " (was the reply cut off? raise max_tokens)"
        )
    if parsed.no_changes and parsed.proposals:
        raise EditFormatError("the reply says === NO CHANGES === but also proposes changes")
    if not parsed.proposals and not parsed.no_changes:
        start = " ".join(text.split())[:160]
        raise EditFormatError(
            "the reply has no '=== FILE: path ===' block and no '=== NO CHANGES ===' line"
            f" (it begins: {start!r})"
        )
    parsed.summary = "\n".join(summary).strip()[:SUMMARY_LIMIT]
    return parsed


def changes_of(
    parsed: ParsedReply,
    current: Mapping[str, bytes | None],
    *,
    allow_create: bool,
    allow_delete: bool,
    order: Sequence[str],
) -> list[dict[str, Any]]:
    """The proposed changes: ``{"path", "before_sha256", "after"}`` for each file the reply
    changes, in the order of ``order`` (the files asked about), then created files.

    ``current`` maps each file asked about to its bytes (None: it does not exist).
    ``before_sha256`` is None for a new file; ``after`` is None for a deletion. A block that
    repeats a file's content unchanged is no change.

    Raises:
        EditFormatError: a path that was not asked about (without ``allow_create``), a
            deletion without ``allow_delete`` or of a file that does not exist.
    """
    changes: dict[str, dict[str, Any]] = {}
    for proposal in parsed.proposals:
        path = proposal.path
        exists = current.get(path) is not None
        if path not in current and not allow_create:
            raise EditFormatError(
                f"the reply changes {path}, which is not one of the files given"
                f" ({', '.join(order)}); set allow_create = true to let it create files"
            )
        before = current.get(path)
        if proposal.content is None:
            if not allow_delete:
                raise EditFormatError(
                    f"the reply deletes {path}; set allow_delete = true to allow deletions"
                )
            if not exists:
                raise EditFormatError(f"the reply deletes {path}, which does not exist")
            digest = sha256_text(before or b"")
            changes[path] = {"path": path, "before_sha256": digest, "after": None}
            continue
        old = before.decode("utf-8", errors="replace") if before is not None else None
        after = unfence(proposal.content, old)
        if old is not None:
            if not old.endswith("\n") and after.endswith("\n"):
                after = after[:-1]  # a block always ends its last line; the file did not
            if after == old:
                continue
        changes[path] = {
            "path": path,
            "before_sha256": sha256_text(before) if before is not None else None,
            "after": after,
        }
    rank = {p: i for i, p in enumerate(order)}
    return sorted(changes.values(), key=lambda c: (rank.get(c["path"], len(rank)), c["path"]))
