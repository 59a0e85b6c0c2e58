"""The shapes of proposed file changes and of the checkpoints that make them undoable.

A :class:`ChangeSet` is what the maestro proposes: per file, the content it expects to find
(``before_sha256``, None when the file must not exist) and what it wants there instead (``after``,
None to delete). A :class:`Checkpoint` is what applying some of it leaves behind so that it can
be undone. Both are msgspec Structs that round-trip through JSON (bytes as base64). This module
only describes; it reads and writes nothing.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import time

import msgspec

__all__ = [
    "ChangeKind",
    "ChangeSet",
    "Checkpoint",
    "CheckpointFile",
    "CheckpointState",
    "FileChange",
    "RestoredFile",
    "UndoResult",
    "new_id",
    "sha256",
]


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def new_id(now: float | None = None) -> str:
    """A sortable, unique id: ``20250101-120000-1a2b3c``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


class ChangeKind(enum.StrEnum):
    """What a change does to its file."""

    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"


class FileChange(msgspec.Struct, frozen=True, kw_only=True):
    """One proposed change to one file.

    Attributes:
        path: the file, relative to the workspace, with ``/`` separators.
        before_sha256: SHA-256 of the content the change was computed against; None when the
            file did not exist (the change creates it).
        before: that content, kept so the change can be reviewed without the workspace; None
            for a creation (or when not captured).
        after: the new content; None deletes the file.
        mode: permission bits the file gets; None keeps the current ones (0o644 for a new file).
    """

    path: str
    before_sha256: str | None
    after: bytes | None
    before: bytes | None = None
    mode: int | None = None

    @property
    def kind(self) -> ChangeKind:
        """Created, modified or deleted."""
        if self.before_sha256 is None:
            return ChangeKind.CREATED
        return ChangeKind.DELETED if self.after is None else ChangeKind.MODIFIED


class ChangeSet(msgspec.Struct, frozen=True, kw_only=True):
    """Proposed changes to several files, reviewed and applied per file.

    Attributes:
        id: unique id (see :func:`new_id`).
        title: what the changes are for, e.g. the request that produced them.
        changes: one :class:`FileChange` per path, in display order.
        created: when it was proposed (seconds since the epoch).
    """

    id: str
    changes: tuple[FileChange, ...]
    title: str = ""
    created: float = 0.0

    @property
    def paths(self) -> tuple[str, ...]:
        """The changed paths, in order."""
        return tuple(c.path for c in self.changes)

    def get(self, path: str) -> FileChange | None:
        """The change to ``path``, if any."""
        return next((c for c in self.changes if c.path == path), None)

    def to_json(self) -> bytes:
        """The change set as JSON (bytes fields base64-encoded)."""
        return _encoder.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ChangeSet:
        """Parse :meth:`to_json` output.

        Raises:
            msgspec.ValidationError: the document is not a change set.
        """
        return msgspec.json.decode(data, type=cls)


class CheckpointState(enum.StrEnum):
    """Where a checkpoint is in its life.

    ``applying``: taken, files being written (a crash leaves this; undo still works);
    ``applied``: every accepted file written; ``undone``: the files were restored.
    """

    APPLYING = "applying"
    APPLIED = "applied"
    UNDONE = "undone"


class CheckpointFile(msgspec.Struct, frozen=True, kw_only=True):
    """What one touched file was before a change, and what the change made it.

    Attributes:
        path: workspace-relative path.
        kind: what the change did.
        existed: whether the file existed before.
        mode: its permission bits before (None when it did not exist).
        before_sha256: its content hash before (None when it did not exist).
        after_sha256: its content hash after the change (None when the change deleted it).
        after_mode: its permission bits after the change (None when deleted).
        blob: file name of the saved original under the checkpoint's ``files/`` (empty if none).
        added: lines added (0 for a binary file).
        removed: lines removed.
    """

    path: str
    kind: ChangeKind
    existed: bool
    mode: int | None
    before_sha256: str | None
    after_sha256: str | None
    after_mode: int | None = None
    blob: str = ""
    added: int = 0
    removed: int = 0


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The saved state of the files one apply touched; the manifest of a checkpoint folder.

    Attributes:
        id: the checkpoint id (its folder name).
        change_set: the id of the change set applied.
        title: the change set's title.
        created: when it was taken.
        state: see :class:`CheckpointState`.
        files: one entry per touched file, in apply order.
        created_dirs: folders the apply created (removed again by undo when empty), deepest last.
        undone_at: when it was undone (0 while not undone).
        artifacts: artifact hashes recorded for it: ``change_set``, ``diff``, ``checkpoint``.
    """

    id: str
    change_set: str
    title: str
    created: float
    state: CheckpointState
    files: tuple[CheckpointFile, ...]
    created_dirs: tuple[str, ...] = ()
    undone_at: float = 0.0
    artifacts: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def paths(self) -> tuple[str, ...]:
        """The touched paths, in apply order."""
        return tuple(f.path for f in self.files)


class RestoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """What undo did to one file.

    ``action``: ``restored`` (old content back), ``deleted`` (the change had created it),
    ``recreated`` (the change had deleted it) or ``unchanged`` (it was already as before, e.g.
    after an apply that a crash interrupted).
    """

    path: str
    action: str


class UndoResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of :func:`engine.changes.checkpoints.undo`."""

    checkpoint: Checkpoint
    files: tuple[RestoredFile, ...]
    forced: tuple[str, ...] = ()


_encoder = msgspec.json.Encoder()
