"""Helpers of the terminal tests: a private tmux server as the reference emulator, and a reader of
``tmux capture-pane -e`` output into styled cells comparable with our :class:`Segment` rows."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine.terminal.emulator import DEFAULT_STYLE, Segment, Style
from engine.terminal.unicode import layout_text

Cell = tuple[str, Style]

# The reference pane: no status line (it would take a row), a server that outlives its sessions
# (one pane per case), a history as long as ours, and no copy of the screen into the history on
# a full clear (tmux 3.3's default, not xterm's).
TMUX_CONFIG = """\
set -g status off
set -s exit-empty off
set -g history-limit 10000
set -g scroll-on-clear off
set -g default-shell /bin/sh
"""

_FLAGS = (
    "#{cursor_x}",
    "#{cursor_y}",
    "#{cursor_flag}",
    "#{alternate_on}",
    "#{keypad_cursor_flag}",
    "#{mouse_any_flag}",
    "#{mouse_sgr_flag}",
    "#{history_size}",
)


@dataclass(frozen=True)
class TmuxScreen:
    """What tmux shows after processing a byte stream."""

    text: list[str]
    cells: list[list[Cell]]
    history_text: list[str]
    cursor: tuple[int, int]
    cursor_visible: bool
    alt_screen: bool
    app_cursor: bool
    mouse: bool
    mouse_sgr: bool
    history_size: int
    title: str


class TmuxReference:
    """A private tmux server that plays byte streams into fresh panes and captures them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # A socket in the test's own folder: private, and gone with the folder.
        self.socket = str(folder / "tmux.sock")
        self.config = folder / "tmux.conf"
        self.config.write_text(TMUX_CONFIG)
        self._ids = itertools.count()

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", self.socket, "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return result.stdout

    def play(
        self,
        data: bytes,
        cols: int = 80,
        rows: int = 24,
        *,
        resize: tuple[int, int] | None = None,
        after: bytes = b"",
    ) -> TmuxScreen:
        """``cat`` ``data`` into a new cols x rows pane (raw: no CR added to LF) and capture it.

        With ``resize``, the pane is then resized to (cols, rows) and ``after`` is played too.
        """
        number = next(self._ids)
        session = f"s{number}"
        first, second = self.folder / f"in{number}a.bin", self.folder / f"in{number}b.bin"
        first.write_bytes(data)
        second.write_bytes(after)
        command = (
            f"stty -opost -echo; cat {first}; tmux wait-for -S played{number};"
            f" tmux wait-for resized{number}; cat {second}; tmux wait-for -S done{number};"
            " exec sleep 1000"
        )
        self.tmux("new-session", "-d", "-s", session, "-x", str(cols), "-y", str(rows), command)
        try:
            self.tmux("wait-for", f"played{number}")
            if resize is not None:
                self._settled_capture(session)
                self.tmux(
                    "resize-window", "-t", session, "-x", str(resize[0]), "-y", str(resize[1])
                )
            self.tmux("wait-for", "-S", f"resized{number}")
            self.tmux("wait-for", f"done{number}")
            return self._settled_capture(session)
        finally:
            self.tmux("kill-session", "-t", session)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, check=False)

    def _settled_capture(self, session: str) -> TmuxScreen:
        # ``wait-for -S`` can overtake the last output tmux has yet to read from the pane.
        previous = self._capture(session)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            current = self._capture(session)
            if current == previous:
                return current
            previous = current
        raise AssertionError("the tmux pane never settled")

    def _capture(self, session: str) -> TmuxScreen:
        target = ("-t", session)
        text = self.tmux("capture-pane", "-p", *target).split("\n")[:-1]
        styled = self.tmux("capture-pane", "-p", "-e", "-N", *target).split("\n")[:-1]
        history = self.tmux("capture-pane", "-p", "-S", "-", "-E", "-1", *target)
        flags = self.tmux("display-message", "-p", *target, " ".join(_FLAGS)).split()
        title = self.tmux("display-message", "-p", *target, "#{pane_title}").rstrip("\n")
        x, y, visible, alt, app_cursor, mouse, mouse_sgr, history_size = (int(f) for f in flags)
        return TmuxScreen(
            text=text,
            cells=parse_sgr_lines(styled),
            history_text=history.split("\n")[:-1] if history_size else [],
            cursor=(x, y),
            cursor_visible=bool(visible),
            alt_screen=bool(alt),
            app_cursor=bool(app_cursor),
            mouse=bool(mouse),
            mouse_sgr=bool(mouse_sgr),
            history_size=history_size,
            title=title,
        )


_SGR = re.compile(r"\x1b\[([0-9;:]*)m|([\x0e\x0f])")
# DEC special graphics, as tmux's ``-e`` capture shows them: SO, the ASCII letter, SI.
_DEC_GRAPHICS = dict(zip("`afgjklmnqtuvwx~", "◆▒°±┘┐┌└┼─├┤┴┬│·", strict=True))


def parse_sgr_lines(lines: list[str]) -> list[list[Cell]]:
    """``capture-pane -e`` output as rows of (character, style) cells.

    tmux writes only the changes between cells, carried over from one row to the next, so the
    rows must be read in order.
    """
    rows: list[list[Cell]] = []
    style = DEFAULT_STYLE
    graphics = False
    for line in lines:
        cells: list[Cell] = []
        position = 0
        for match in _SGR.finditer(line):
            cells.extend(_cells(line[position : match.start()], style, graphics))
            if match.group(2) is not None:
                graphics = match.group(2) == "\x0e"
            else:
                style = apply_sgr(style, match.group(1))
            position = match.end()
        cells.extend(_cells(line[position:], style, graphics))
        rows.append(cells)
    return rows


def _cells(text: str, style: Style, graphics: bool) -> list[Cell]:
    if graphics:
        text = "".join(_DEC_GRAPHICS.get(char, char) for char in text)
    return [(char, style) for char in text]


def apply_sgr(style: Style, params: str) -> Style:
    """The style after one SGR sequence (the subset tmux emits)."""
    codes = [p.split(":")[0] for p in params.split(";")] if params else ["0"]
    values = [int(c) if c else 0 for c in codes]
    index = 0
    while index < len(values):
        code = values[index]
        index += 1
        if code == 0:
            style = DEFAULT_STYLE
        elif code in _ATTR_ON:
            style = replace(style, **{_ATTR_ON[code]: True})
        elif code in _ATTR_OFF:
            style = replace(style, **dict.fromkeys(_ATTR_OFF[code], False))
        elif 30 <= code <= 37 or 90 <= code <= 97:
            style = replace(style, fg=f"color({code - 30 if code < 90 else code - 82})")
        elif 40 <= code <= 47 or 100 <= code <= 107:
            style = replace(style, bg=f"color({code - 40 if code < 100 else code - 92})")
        elif code in (38, 48):
            if values[index] == 5:
                color = f"color({values[index + 1]})"
                index += 2
            else:
                r, g, b = values[index + 1 : index + 4]
                color = f"#{r:02x}{g:02x}{b:02x}"
                index += 4
            style = replace(style, **{"fg" if code == 38 else "bg": color})
        elif code == 39:
            style = replace(style, fg=None)
        elif code == 49:
            style = replace(style, bg=None)
    return style


_ATTR_ON = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink", 7: "reverse", 9: "strike"}
_ATTR_OFF = {
    22: ("bold", "dim"),
    23: ("italic",),
    24: ("underline",),
    25: ("blink",),
    27: ("reverse",),
    29: ("strike",),
}


def segment_cells(row: list[Segment]) -> list[Cell]:
    """Our row of segments as (character, style) cells, one per character."""
    return [(char, segment.style) for segment in row for char in segment.text]


def as_laid_out(row: list[Cell]) -> list[Cell]:
    """tmux's cells put through our text clean-up (NFC, zero-width code points dropped).

    tmux keeps a combining mark or joiner in the cell of the character before it; we compose or
    drop it (:mod:`engine.terminal.unicode`). What must match is then the layout: which visible
    character is in which cell.
    """
    out: list[Cell] = []
    for char, style in row:
        if out and not layout_text(char):
            out[-1] = (out[-1][0] + char, out[-1][1])
        else:
            out.append((char, style))
    return [(layout_text(char), style) for char, style in out]


def visible_look(cell: Cell) -> Cell:
    """A cell reduced to what can be seen: a blank shows only background-like attributes.

    tmux does not keep a blank's foreground, weight or slant when it was never written (cells
    past the end of a line), and neither is visible, so blanks compare on the rest.
    """
    char, style = cell
    if char != " " or style.reverse:
        return cell
    return (" ", Style(bg=style.bg, underline=style.underline, strike=style.strike))


def compare_cells(ours: list[list[Cell]], theirs: list[list[Cell]]) -> list[str]:
    """Differences between our screen and tmux's; empty if they look the same.

    tmux's capture ends each row at its last written cell: blanks erased with a background
    colour past that point are not reported (tmux draws them, but ``capture-pane`` omits them),
    so there our cells only have to be blanks. Tests of background colour erase check those.
    """
    problems = []
    for y, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        if len(reference) > len(mine):
            problems.append(f"row {y}: tmux has {len(reference)} cells, we have {len(mine)}")
            continue
        for x, (a, b) in enumerate(zip(mine[: len(reference)], reference, strict=True)):
            if visible_look(a) != visible_look(b):
                problems.append(f"row {y} char {x}: ours {a!r} tmux {b!r}")
        for x, (char, _style) in enumerate(mine[len(reference) :], start=len(reference)):
            if char != " ":
                problems.append(f"row {y} char {x}: ours {char!r} past the end of tmux's row")
    return problems
