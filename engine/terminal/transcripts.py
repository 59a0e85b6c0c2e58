"""Terminal transcripts as artifacts: what a terminal showed, kept when it closes.

A :class:`Transcript` is taken from a :class:`~engine.terminal.session.PtySession` once its
program has ended or the terminal is being closed; :func:`transcript_command` turns it into a
:class:`~engine.pit.messages.PutArtifact` (plain text, named ``terminal-<program>``, tagged
``terminal``, ``transcript`` and how it ended: ``exit-N``, ``signal-N`` or ``closed``) for the
artifact store, where ``symphony artifacts search --tag terminal`` finds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.pit.messages import PutArtifact

if TYPE_CHECKING:
    from engine.terminal.session import PtySession

__all__ = ["Transcript", "transcript_command"]


@dataclass(frozen=True)
class Transcript:
    """The text a terminal showed (history and main screen) and what ran in it."""

    text: str
    argv: tuple[str, ...]
    cwd: str
    started_at: float | None
    ended_at: float
    #: The program's exit status (``-N``: signal N); None when the terminal was closed with
    #: the program still running.
    exit_status: int | None

    @classmethod
    def of(cls, session: PtySession, *, closed: bool = False) -> Transcript:
        """Take ``session``'s transcript now (any thread); ``closed``: Symphony ended it."""
        return cls(
            text=session.transcript(),
            argv=tuple(session.argv),
            cwd=str(session.cwd),
            started_at=session.started_at,
            ended_at=time.time(),
            exit_status=None if closed else session.exit_status,
        )

    @property
    def program(self) -> str:
        """The program's file name (``bash``), for the artifact name."""
        return Path(self.argv[0]).name if self.argv else "terminal"


def transcript_command(transcript: Transcript) -> PutArtifact | None:
    """The command storing ``transcript``, or None when the terminal showed nothing."""
    if not transcript.text.strip():
        return None
    return PutArtifact(
        data=transcript.text.encode("utf-8", "surrogatepass"),
        name=f"terminal-{transcript.program}",
        tags=("terminal", "transcript", _ending(transcript.exit_status)),
        media_type="text/plain",
    )


def _ending(status: int | None) -> str:
    if status is None:
        return "closed"
    return f"signal-{-status}" if status < 0 else f"exit-{status}"
