"""Unified diffs of proposed changes, for review (difflib); binary files are summarised.

Works from the change alone (``before`` and ``after``), never from the workspace.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from engine.changes.model import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.changes.model import ChangeSet, FileChange

__all__ = ["change_diff", "diff_text", "is_binary", "line_counts", "stat_line"]

#: Content with a NUL byte in its first this many bytes, or that is not UTF-8, is binary.
BINARY_SNIFF = 8192
_MARK = {ChangeKind.CREATED: "A", ChangeKind.MODIFIED: "M", ChangeKind.DELETED: "D"}
_NO_NEWLINE = "\\ No newline at end of file\n"


def is_binary(data: bytes | None) -> bool:
    """Whether ``data`` should be summarised rather than diffed line by line."""
    if not data:
        return False
    if b"\x00" in data[:BINARY_SNIFF]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _lines(data: bytes | None) -> list[str]:
    return (data or b"").decode("utf-8").splitlines(keepends=True)


def _binary(change: FileChange) -> bool:
    return is_binary(change.before) or is_binary(change.after)


def change_diff(change: FileChange, *, context: int = 3) -> str:
    """The unified diff of one change (``--- a/path`` / ``+++ b/path``), or a binary summary."""
    kind = change.kind
    old_name = "/dev/null" if kind is ChangeKind.CREATED else f"a/{change.path}"
    new_name = "/dev/null" if kind is ChangeKind.DELETED else f"b/{change.path}"
    if _binary(change):
        old = len(change.before or b"")
        new = len(change.after or b"")
        return (
            f"--- {old_name}\n+++ {new_name}\n"
            f"Binary file {kind.value}: {old:,} bytes before, {new:,} bytes after\n"
        )
    if kind is not ChangeKind.CREATED and change.before is None:
        return f"--- {old_name}\n+++ {new_name}\n(old content not captured)\n"
    out: list[str] = []
    for line in difflib.unified_diff(
        _lines(change.before), _lines(change.after), old_name, new_name, n=context
    ):
        out.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    if not out:  # only the mode changes
        return f"--- {old_name}\n+++ {new_name}\n(content unchanged)\n"
    return "".join(out)


def line_counts(change: FileChange) -> tuple[int, int]:
    """Lines added and removed by a change ((0, 0) for a binary file)."""
    if _binary(change):
        return 0, 0
    added = removed = 0
    for line in difflib.unified_diff(_lines(change.before), _lines(change.after), n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def stat_line(change: FileChange) -> str:
    """``M src/app.py  +3 -1`` (``binary`` instead of counts for a binary file)."""
    if _binary(change):
        counts = "binary"
    else:
        added, removed = line_counts(change)
        counts = f"+{added} -{removed}"
    return f"{_MARK[change.kind]} {change.path}  {counts}"


def diff_text(change_set: ChangeSet, paths: Iterable[str] | None = None) -> str:
    """The diffs of the changes to ``paths`` (default: every change), in change-set order."""
    wanted = None if paths is None else set(paths)
    return "".join(change_diff(c) for c in change_set.changes if wanted is None or c.path in wanted)
