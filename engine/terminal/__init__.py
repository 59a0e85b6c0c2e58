"""Terminals (SPEC §3.9): programs in PTYs, a fast emulator for their output, key encoding.

Import from here; the sub-modules are implementation detail. :class:`PtySession` runs a program
and keeps its screen; :func:`make_emulator` gives the emulator alone (for replaying output);
:func:`encode_key` turns key names into the bytes a program expects.
"""

from __future__ import annotations

from engine.terminal.emulator import (
    DEFAULT_SCROLLBACK,
    DEFAULT_STYLE,
    AvtEmulator,
    Cursor,
    Emulator,
    Segment,
    Style,
    make_emulator,
)
from engine.terminal.keys import encode_key
from engine.terminal.modes import Modes
from engine.terminal.session import PtySession, Snapshot, TerminalError

__all__ = [
    "DEFAULT_SCROLLBACK",
    "DEFAULT_STYLE",
    "AvtEmulator",
    "Cursor",
    "Emulator",
    "Modes",
    "PtySession",
    "Segment",
    "Snapshot",
    "Style",
    "TerminalError",
    "encode_key",
    "make_emulator",
]
