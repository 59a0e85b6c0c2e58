"""Parsers of git's machine-readable output (``status --porcelain=v2 -z``, ``diff --numstat -z``).

Pure functions over the text git printed: no process is started here, so they are tested on
their own and never depend on the user's git configuration. Paths are taken verbatim (``-z``
output is never quoted), so names with spaces, tabs or newlines come through intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Numstat", "Status", "parse_numstat", "parse_status"]

# Fields before the path in each porcelain v2 record kind (the path may contain spaces).
_FIELDS_BEFORE_PATH = {"1": 8, "2": 9, "u": 10}


@dataclass
class Status:
    """What ``git status --porcelain=v2 --branch -z`` reported."""

    branch: str = ""
    head: str = ""
    upstream: str | None = None
    ahead: int = 0
    behind: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        """The ``git.status`` step outputs."""
        changed = [e for e in self.entries if e["kind"] in ("changed", "renamed")]
        return {
            "branch": self.branch,
            "head": self.head,
            "upstream": self.upstream,
            "ahead": self.ahead,
            "behind": self.behind,
            "clean": not any(e["kind"] != "ignored" for e in self.entries),
            "entries": self.entries,
            "staged": [e["path"] for e in changed if e["index"] != "."],
            "unstaged": [e["path"] for e in changed if e["worktree"] != "."],
            "untracked": [e["path"] for e in self.entries if e["kind"] == "untracked"],
        }


def _entry(path: str, index: str, worktree: str, kind: str, orig: str | None) -> dict[str, Any]:
    return {"path": path, "index": index, "worktree": worktree, "kind": kind, "orig_path": orig}


def parse_status(text: str) -> Status:
    """Parse porcelain v2 output with ``--branch`` and ``-z``.

    Raises:
        ValueError: a record does not have the shape git documents.
    """
    status = Status()
    records = text.split("\0")
    i = 0
    while i < len(records):
        record = records[i]
        i += 1
        if not record:
            continue
        kind = record[0]
        if kind == "#":
            _header(status, record)
        elif kind in _FIELDS_BEFORE_PATH:
            parts = record.split(" ", _FIELDS_BEFORE_PATH[kind])
            if len(parts) != _FIELDS_BEFORE_PATH[kind] + 1 or len(parts[1]) != 2:
                raise ValueError(f"unexpected git status record {record!r}")
            xy, path = parts[1], parts[-1]
            if kind == "1":
                status.entries.append(_entry(path, xy[0], xy[1], "changed", None))
            elif kind == "2":
                # With -z the original path is the next NUL-terminated field.
                if i >= len(records):
                    raise ValueError(f"git status rename record without its source: {record!r}")
                orig = records[i]
                i += 1
                status.entries.append(_entry(path, xy[0], xy[1], "renamed", orig))
            else:
                status.entries.append(_entry(path, xy[0], xy[1], "conflict", None))
        elif kind in "?!" and record[1:2] == " ":
            what = "untracked" if kind == "?" else "ignored"
            status.entries.append(_entry(record[2:], kind, kind, what, None))
        else:
            raise ValueError(f"unexpected git status record {record!r}")
    return status


def _header(status: Status, record: str) -> None:
    _, _, rest = record.partition(" ")
    key, _, value = rest.partition(" ")
    if key == "branch.oid":
        status.head = "" if value == "(initial)" else value
    elif key == "branch.head":
        status.branch = "" if value == "(detached)" else value
    elif key == "branch.upstream":
        status.upstream = value
    elif key == "branch.ab":
        ahead, _, behind = value.partition(" ")
        status.ahead = int(ahead.lstrip("+"))
        status.behind = int(behind.lstrip("-"))
    # Other headers (stash counts in newer gits) carry nothing the step reports.


@dataclass
class Numstat:
    """Per-file line counts of ``git diff --numstat -z``."""

    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(f["added"] for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f["deleted"] for f in self.files)


def parse_numstat(text: str) -> Numstat:
    """Parse ``--numstat -z``: ``ADDED\\tDELETED\\tPATH\\0``, or for a rename
    ``ADDED\\tDELETED\\t\\0OLD\\0NEW\\0``; a binary file counts ``-`` lines.

    Raises:
        ValueError: a record does not have that shape.
    """
    result = Numstat()
    fields = text.split("\0")
    i = 0
    while i < len(fields):
        record = fields[i]
        i += 1
        if not record:
            continue
        parts = record.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"unexpected git numstat record {record!r}")
        added, deleted, path = parts
        orig: str | None = None
        if path == "":
            if i + 1 >= len(fields):
                raise ValueError(f"git numstat rename record without its paths: {record!r}")
            orig, path = fields[i], fields[i + 1]
            i += 2
        binary = added == "-" and deleted == "-"
        result.files.append(
            {
                "path": path,
                "orig_path": orig,
                "added": 0 if binary else int(added),
                "deleted": 0 if binary else int(deleted),
                "binary": binary,
            }
        )
    return result
