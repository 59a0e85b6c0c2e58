"""Terminal modes the emulator library does not report, recovered from the raw output bytes.

pyavt keeps the screen and the cursor (with its visibility), but it does not say whether
bracketed paste, the alternate screen or mouse reporting is on, nor what the window title is; it
ignores ``CSI 3 J`` (erase saved lines), and its application-cursor-keys flag survives a full
reset (RIS), unlike xterm's and tmux's. A terminal widget needs all of these, so
:class:`ModeScanner` watches the same bytes the emulator is fed for the few sequences that set
them, and reports where ``CSI 3 J`` and RIS fall so the emulator can act on its history there.

It must stay cheap: a chunk is only scanned in full when a quick search finds one of the
sequence introducers in it (plain text and SGR colour runs never have them), and a sequence
split across two chunks is kept as a short carry and completed with the next one. It is not a
parser: sequences inside other strings (an OSC title containing ``ESC [ ? 1049 h``) are rare
enough to be ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: DEC private modes that turn on mouse reporting (X10, normal, button-event, any-event).
MOUSE_TRACKING_MODES = frozenset({9, 1000, 1002, 1003})
#: DEC private modes that switch to the alternate screen.
ALT_SCREEN_MODES = frozenset({47, 1047, 1049})

# One pass finds every sequence of interest, in order: DECSET/DECRST, OSC 0/2 (title), RIS,
# DECSTR and ED 3. OSC strings end with BEL or ST (ESC \).
_SEQUENCE = re.compile(
    rb"\x1b(?:\[\?([0-9;]*)([hl])|\]([0-9]*);([^\x07\x1b]*)(?:\x07|\x1b\\)|(c)|\[(!)p|\[(3)J)"
)
# An unfinished sequence of interest at the very end of a chunk.
# Only prefixes of the sequences above count, so an SGR split across chunks is not carried.
_UNFINISHED = re.compile(rb"\x1b(?:\[(?:\?[0-9;]*|3|!)?|\][0-9]*(?:;[^\x07\x1b]*)?\x1b?)?\Z")
_TITLE_OSC = {b"0", b"2"}
# How far back from a chunk's end an unfinished sequence may start (long titles are cut here).
_CARRY_LIMIT = 512
# Where the first sequence of interest may start. The leading ESC lets the regex engine skip
# ahead with a fast character search: plain text is passed over at memory speed, and SGR
# colours are rejected after a byte or two.
_START = re.compile(rb"\x1b(?:\[\?|\]|c|\[3J|\[!p)")


@dataclass(frozen=True, slots=True)
class Modes:
    """Terminal modes a front end needs to encode input and choose what to show.

    Attributes:
        bracketed_paste: DECSET 2004; pasted text must be wrapped in ``ESC[200~`` … ``ESC[201~``.
        app_cursor: DECCKM (DECSET 1); arrow keys send ``ESC O A`` instead of ``ESC [ A``.
        alt_screen: the alternate screen (DECSET 47, 1047 or 1049) is shown; it has no scrollback.
        cursor_visible: DECTCEM (DECSET 25).
        mouse: some mouse reporting mode is on (``mouse_mode`` says which).
        mouse_mode: 0, or the DEC mode number of the active tracking mode (9, 1000, 1002, 1003).
        mouse_sgr: DECSET 1006; mouse reports use the SGR encoding.
        focus_events: DECSET 1004; the program wants ``ESC[I`` / ``ESC[O`` on focus changes.
    """

    bracketed_paste: bool = False
    app_cursor: bool = False
    alt_screen: bool = False
    cursor_visible: bool = True
    mouse: bool = False
    mouse_mode: int = 0
    mouse_sgr: bool = False
    focus_events: bool = False


class ModeScanner:
    """Tracks cursor keys, bracketed paste, alternate screen, mouse and title across chunks.

    Feed it every chunk, in order, that the emulator gets. Not thread-safe: the emulator that owns
    it is used under its session's lock.
    """

    __slots__ = (
        "_carry",
        "alt_screen",
        "app_cursor",
        "bracketed_paste",
        "focus_events",
        "mouse_mode",
        "mouse_sgr",
        "title",
    )

    def __init__(self) -> None:
        self._carry = b""
        self.reset()

    def reset(self) -> None:
        """Forget every mode, as a terminal reset (RIS) does."""
        self.bracketed_paste = False
        self.app_cursor = False
        self.alt_screen = False
        self.mouse_mode = 0
        self.mouse_sgr = False
        self.focus_events = False
        self.title = ""

    def scan(self, data: bytes) -> list[tuple[int, bool]]:
        """Update the modes from one chunk of output.

        Returns:
            For each ``CSI 3 J`` (erase saved lines) and RIS (full reset), the offset in
            ``data`` just after it and whether it was a reset, so the caller can act on the
            emulator's state at that point; usually empty.
        """
        events: list[tuple[int, bool]] = []
        carry = self._carry
        start = 0
        if carry:
            # Finish the sequence the previous chunk ended in, if this chunk completes it.
            match = _SEQUENCE.match(carry + data[:_CARRY_LIMIT])
            if match is not None and match.end() > len(carry):
                start = match.end() - len(carry)
                event = self._apply(match)
                if event is not None:
                    events.append((start, event))
        first = _START.search(data, start)
        if first is not None:
            for match in _SEQUENCE.finditer(data, first.start()):
                event = self._apply(match)
                if event is not None:
                    events.append((match.end(), event))
        if len(data) >= _CARRY_LIMIT:
            self._carry = _unfinished_tail(data)
        elif start:
            self._carry = _unfinished_tail(data[start:])
        else:
            self._carry = _unfinished_tail(carry + data)
        return events

    def _apply(self, match: re.Match[bytes]) -> bool | None:
        """Apply one recognised sequence; True after RIS, False after ``CSI 3 J``, else None."""
        params, final, osc, title, ris, decstr, ed3 = match.groups()
        if final is not None:
            self._set_private_modes(params, final == b"h")
        elif osc is not None:
            if osc in _TITLE_OSC:
                self.title = title.decode("utf-8", "replace")
        elif ris is not None:
            self.reset()
            return True
        elif decstr is not None:
            # A soft reset puts the cursor keys back to normal; the other modes here survive.
            self.app_cursor = False
        elif ed3 is not None:
            return False
        return None

    def _set_private_modes(self, params: bytes, on: bool) -> None:
        for param in params.split(b";"):
            if not param:
                continue
            mode = int(param)
            if mode == 2004:
                self.bracketed_paste = on
            elif mode == 1:
                self.app_cursor = on
            elif mode in ALT_SCREEN_MODES:
                self.alt_screen = on
            elif mode in MOUSE_TRACKING_MODES:
                # Like xterm and tmux: any tracking mode's reset turns reporting off.
                self.mouse_mode = mode if on else 0
            elif mode == 1006:
                self.mouse_sgr = on
            elif mode == 1004:
                self.focus_events = on


def _unfinished_tail(data: bytes) -> bytes:
    """The unfinished sequence of interest at the end of ``data`` (usually empty)."""
    start = max(0, len(data) - _CARRY_LIMIT)
    if data.find(b"\x1b", start) < 0:
        return b""
    match = _UNFINISHED.search(data, start)
    return match.group() if match is not None else b""
