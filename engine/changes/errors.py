"""Errors of proposed changes: refusals a user can act on (exit 2 on the command line)."""

from __future__ import annotations

from engine.types.errors import UsageError

__all__ = ["ChangeConflict", "NothingToUndo", "UnsafePath"]


class UnsafePath(UsageError):
    """A change names a path outside the workspace (``..``, absolute, a link out) or unusable."""

    code = "changes.path"


class ChangeConflict(UsageError):
    """Files are not in the state a change expects; ``paths`` names them.

    Raised by apply when a file changed on disk since the change was proposed, and by undo when a
    file changed since the change was applied.
    """

    code = "changes.conflict"

    def __init__(self, message: str, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths


class NothingToUndo(UsageError):
    """No applied checkpoint is left to undo."""

    code = "changes.nothing"
