"""Errors of the virtual-DOM model: invalid trees, patches and events.

Both are :class:`~engine.types.errors.ExtensionError` subclasses, since a bad tree or event is a
fault of the motif that sent it (or of the renderer). Each keeps every problem found with its
location in the tree, written like ``root/vertical[summary]/button[ok]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from engine.types.errors import ExtensionError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PatchError", "Problem", "VDomError"]


class Problem(NamedTuple):
    """One thing wrong with a tree, a patch or an event, and where."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


class VDomError(ExtensionError):
    """A tree, a patch or an event is invalid; ``problems`` lists each problem found.

    Attributes:
        problems: every problem found, in tree order (at most a few dozen).
    """

    code = "motif.invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, location: str, reason: str) -> VDomError:
        """An error with a single problem."""
        return cls([Problem(location, reason)])


class PatchError(VDomError):
    """A patch does not apply to the tree it was given (a missing path, a bad index)."""

    code = "motif.patch_invalid"
