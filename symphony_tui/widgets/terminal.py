"""The Terminal widget: a program in a PTY, drawn with Textual's line API (SPEC §3.9).

The widget owns one :class:`~engine.terminal.PtySession` (``$SHELL`` or a given command, in the
workspace) and turns its immutable :class:`~engine.terminal.Snapshot` rows into strips. Output
never reaches the UI thread as data: the session's I/O thread only posts one
:class:`Terminal.ScreenChanged` message when none is pending, and the engine already limits those
calls to 60 a second, so a flood costs a bounded number of frames. Each frame takes one snapshot,
compares its rows by identity with the last one (unchanged rows are the same tuple objects) and
repaints only the rows that changed; strips and Rich styles are cached.

Keys go to the program (``ctrl+c`` included) except the widget's own bindings (``ctrl+g`` leaves
the terminal, ``ctrl+y`` copies while text is selected) and the ``escape_keys`` its owner asks
for; the app's priority keys (quit, palette) never get here.

Selecting: a mouse drag selects text (on the screen or scrolled back into the history), shown in
reverse video, and releasing the button copies it through ``app.copy_to_clipboard`` like most
terminals do. Selections are held in absolute history rows, so they follow their text as it
scrolls up; they end when that text changes, on a resize, and on any key or paste sent to the
program. When the program asked for mouse reports (vim, htop, less with ``--mouse``), presses,
drags and releases go to it, and shift+drag selects instead.

This module must not parse terminal output or block the UI thread: closing a session (which may
wait for a program to die) happens on a thread of its own.
"""

from __future__ import annotations

import signal
import textwrap
import threading
import weakref
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.cells import get_character_cell_size
from rich.segment import Segment as RichSegment
from rich.style import Style as RichStyle
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.reactive import var
from textual.strip import Strip
from textual.widget import Widget

from engine.terminal import DEFAULT_STYLE, PtySession, TerminalError, encode_key
from engine.terminal.transcripts import Transcript

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path

    from textual import events
    from textual.binding import BindingsMap, BindingType
    from textual.style import Style as VisualStyle

    from engine.terminal import Modes, Segment, Snapshot, Style

__all__ = ["Terminal", "exit_text", "key_bytes"]

#: Rows scrolled per mouse wheel step.
WHEEL_ROWS = 3
_BLANK: tuple[Segment, ...] = ()
Cell = tuple[int, int]
"""A selection end: (absolute row counted from the first history row ever, column)."""


class _Notice:
    """A line the widget adds below the program's output (exit status, start failure)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def exit_text(status: int | None) -> str:
    """The line shown when the program has ended."""
    if status is None:
        how = "process exited"
    elif status < 0:
        try:
            how = f"process ended by {signal.Signals(-status).name}"
        except ValueError:
            how = f"process ended by signal {-status}"
    else:
        how = f"process exited with status {status}"
    return f"[{how} — press enter to restart, ctrl+w to close]"


def key_bytes(event: events.Key, *, app_cursor: bool) -> bytes | None:
    """What a key press sends to the program, or None when it sends nothing."""
    data = encode_key(event.key, app_cursor=app_cursor)
    if data is not None:
        return data
    char = event.character
    if not char:
        return None
    modifiers = event.key.split("+")[:-1]
    if ("alt" in modifiers or "meta" in modifiers) and char.isprintable():
        return b"\x1b" + char.encode()  # alt+shift+1 and the like: the layout decides
    return char.encode()


def _close(
    session: PtySession,
    *,
    wait: bool = False,
    then: Callable[[PtySession], None] | None = None,
) -> None:
    """Close a session off the UI thread (closing may wait up to seconds for a stubborn program).

    Not a daemon thread, so an exiting app still sends SIGKILL to programs that ignore SIGHUP.
    With ``wait``, the program has already exited: let the session read its last output first.
    ``then`` runs on that thread once the session is closed.
    """

    def run() -> None:
        if wait:
            session.wait(5.0)
        session.close()
        if then is not None:
            then(session)

    threading.Thread(target=run, name=f"symphony-terminal-{session.pid}:close").start()


class Terminal(Widget, can_focus=True):
    """A terminal running ``argv`` (default ``$SHELL``) in ``cwd``.

    Args:
        argv: the program and its arguments; None runs ``$SHELL`` (or ``/bin/sh``).
        cwd: the working directory.
        env: the program's environment; None inherits Symphony's.
        escape_keys: keys that leave the program alone and go to the app's bindings
            (besides this widget's own ``ctrl+g``).
        on_transcript: called with each session's :class:`Transcript` once, when its program
            ended or the terminal closes (from a worker thread, or the caller's in
            :meth:`keep_transcript`).
    """

    DEFAULT_CSS = """
    Terminal {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $foreground;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+g",
            "leave",
            "Leave terminal",
            tooltip="Move focus out of the terminal",
            id="terminal_leave",
        ),
        # Only while text is selected (check_action): otherwise ctrl+y is the shell's (yank).
        Binding(
            "ctrl+y", "copy_selection", "Copy", tooltip="Copy the selected text", id="terminal_copy"
        ),
    ]
    # The screen's own text selection knows nothing of rows drawn with the line API.
    ALLOW_SELECT = False

    terminal_title: var[str] = var("", init=False)
    """The window title the program set (OSC 0/2), for a tab label."""

    class ScreenChanged(Message, bubble=False):
        """The session has new output or a new state; posted from its I/O thread."""

    class TitleChanged(Message):
        """The program set a new window title."""

        def __init__(self, terminal: Terminal, title: str) -> None:
            super().__init__()
            self.terminal = terminal
            self.title = title

    class Exited(Message):
        """The program ended; ``status`` is its exit code (``-signal``), None if unknown."""

        def __init__(self, terminal: Terminal, status: int | None) -> None:
            super().__init__()
            self.terminal = terminal
            self.status = status

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        escape_keys: Iterable[str] = (),
        on_transcript: Callable[[Transcript], None] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.argv = list(argv) if argv else None
        self.cwd = cwd
        self.env = env
        self.escape_keys = frozenset(escape_keys)
        self._bindings_for: tuple[dict[str, str], BindingsMap] | None = None
        self.on_transcript = on_transcript
        self._kept: weakref.WeakSet[PtySession] = weakref.WeakSet()  # transcripts handed over
        self._kept_lock = threading.Lock()
        self.session: PtySession | None = None
        self.snapshot: Snapshot | None = None
        """The screen as last drawn."""
        self._pending = False  # a ScreenChanged is on its way; the I/O thread posts no other
        self._scroll = 0  # rows scrolled back from the live bottom
        self._notice: _Notice | None = None
        self._exit_seen = False
        self._view: list[Sequence[Segment] | _Notice] = []
        self._strips: list[Strip | None] = []
        self._cursor: tuple[int, int] | None = None
        self._focused = False
        self._labelled = False
        self._visual: VisualStyle | None = None
        self._base = RichStyle()
        self._styles: dict[int, tuple[Style, RichStyle]] = {}
        self._top = 0  # absolute row of the view's first row
        self._anchor: Cell | None = None  # where a selecting drag started
        self._selection: tuple[Cell, Cell] | None = None  # first and last cell, in reading order
        self._reported: int | None = None  # the button whose press went to the program
        self._motion_at: tuple[int, int] | None = None  # the cell of the last motion report

    # -- the session ------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or restart) the program at the widget's size."""
        old = self.session
        if old is not None:
            self.session = None
            _close(old)
        cols, rows = max(1, self.size.width), max(1, self.size.height)
        session = PtySession(
            self.argv, cwd=self.cwd, env=self.env, cols=cols, rows=rows, on_update=self._schedule
        )
        self._scroll = 0
        self._exit_seen = False
        self._notice = None
        self.snapshot = None
        self._select(None)
        try:
            session.start()
        except TerminalError as e:
            self._notice = _Notice(f"[{e} — press enter to retry, ctrl+w to close]")
            self._relayout(full=True)
            return
        self.session = session
        self._update()
        if self.is_attached:
            self.screen.refresh_bindings()

    @property
    def alive(self) -> bool:
        """Whether the program is running."""
        return self.session is not None and self.session.alive

    def _schedule(self) -> None:
        """on_update, on the I/O thread: ask for one frame unless one is already asked for."""
        if not self._pending:
            self._pending = True
            self.post_message(self.ScreenChanged())

    def on_terminal_screen_changed(self, _message: ScreenChanged) -> None:
        self._pending = False  # before the snapshot, so output after it asks for a new frame
        self._update()

    def _update(self, *, full: bool = False) -> None:
        session = self.session
        if session is None:
            self._relayout(full=full)
            return
        old, new = self.snapshot, session.snapshot()
        self.snapshot = new
        if self._selection is not None and not self._selection_kept(old, new):
            self._select(None)
        if old is not None and self._scroll:
            # Stay on the same history rows while output continues.
            grown = (new.scrollback_len + new.scrollback_dropped) - (
                old.scrollback_len + old.scrollback_dropped
            )
            self._scroll = max(0, min(self._scroll + grown, new.scrollback_len))
        self.terminal_title = new.title
        if not new.alive and session.pid is not None and not self._exit_seen:
            self._exit_seen = True
            _close(session, wait=True, then=self.keep_transcript)
            self.post_message(self.Exited(self, new.exit_status))
            self.screen.refresh_bindings()  # keys the program had now go to the app
        if self._exit_seen:
            self._notice = _Notice(exit_text(new.exit_status))
        self._relayout(full=full)

    def watch_terminal_title(self, title: str) -> None:
        self.post_message(self.TitleChanged(self, title))

    # -- drawing ----------------------------------------------------------------------------

    def _rows(self) -> tuple[list[Sequence[Segment] | _Notice], int, int]:
        """The rows below the history (screen, then any notice), the history length, cursor row."""
        snap = self.snapshot
        if snap is None:
            text = self._notice.text if self._notice is not None else ""
            return [_Notice(line) for line in textwrap.wrap(text, max(self.size.width, 20))], 0, -1
        rows: list[Sequence[Segment] | _Notice] = list(snap.lines)
        if self._notice is not None:
            # Right below the last output, wrapped to the width; the screen scrolls if full.
            used = max((i for i, row in enumerate(rows) if _visible(row)), default=-1)
            del rows[used + 1 :]
            width = max(self.size.width, 20)
            rows.extend(_Notice(line) for line in textwrap.wrap(self._notice.text, width))
            rows.extend([_BLANK] * (snap.rows - len(rows)))
        return rows, snap.scrollback_len, snap.cursor.y

    def _relayout(self, *, full: bool = False) -> None:
        """Work out which rows the widget shows and repaint the ones that changed."""
        width, height = self.size
        screen, history, cursor_row = self._rows()
        total = history + len(screen)
        self._scroll = max(0, min(self._scroll, history))
        top = max(0, total - height - self._scroll)
        snap = self.snapshot
        old_top, self._top = self._top, top + (snap.scrollback_dropped if snap else 0)
        view: list[Sequence[Segment] | _Notice] = []
        if top < history and self.session is not None:
            view.extend(self.session.scrollback_lines(top, min(history, top + height)))
        start = max(0, top - history)
        view.extend(screen[start : start + height - len(view)])
        view.extend([_BLANK] * (height - len(view)))
        old, strips = self._view, self._strips
        self._view = view
        cursor = None
        if snap is not None and snap.alive and snap.cursor.visible and self._focused:
            y = history + cursor_row - top
            if 0 <= y < height:
                cursor = (snap.cursor.x, y)
        moved = {c[1] for c in (cursor, self._cursor) if c is not None and cursor != self._cursor}
        self._cursor = cursor
        if self._scroll or self._labelled:  # the [offset/history] label on the top row
            moved.add(0)
        self._labelled = bool(self._scroll)
        if full or len(old) != height or (self._selection and self._top != old_top):
            self._strips = [None] * height
            self.refresh()
            return
        dirty = [y for y in range(height) if not _same(old[y], view[y])]
        for y in dirty:
            strips[y] = None
        lines = sorted(moved.union(dirty))
        if len(lines) > height // 2:
            self.refresh()
        else:
            for y in lines:
                self.refresh(Region(0, y, width, 1))

    def render_line(self, y: int) -> Strip:
        visual = self.visual_style
        if visual is not self._visual:  # theme or CSS changed
            self._visual = visual
            self._base = visual.rich_style
            self._styles.clear()
            self._strips = [None] * len(self._view)
        width = self.size.width
        if y >= len(self._view):
            return Strip.blank(width, self._base)
        strip = self._strips[y]
        if strip is None or strip.cell_length != width:  # new row, or resized before on_resize
            strip = self._strip(self._view[y], width)
            self._strips[y] = strip
        span = self._selected_span(y, width)
        if span is not None:
            strip = self._invert(strip, *_widen(strip.text, *span))
        cursor = self._cursor
        if cursor is not None and cursor[1] == y and cursor[0] < width:
            strip = self._invert(strip, cursor[0], cursor[0] + 1)
        if y == 0 and self._scroll and self.snapshot is not None:
            # Like tmux's copy mode: how far back the view is, so a still screen is explained.
            label = f"[{self._scroll}/{self.snapshot.scrollback_len}]"
            if len(label) < width:
                style = self._base + RichStyle(reverse=True)
                strip = Strip.join(
                    [strip.crop(0, width - len(label)), Strip([RichSegment(label, style)])]
                )
        return strip

    def _invert(self, strip: Strip, start: int, end: int) -> Strip:
        """``strip`` with cells ``start:end`` in reverse video (or out of it, if they were)."""
        middle = [
            RichSegment(text, (style or self._base) + RichStyle(reverse=not _reversed(style)))
            for text, style, _ in strip.crop(start, end)
        ]
        return Strip.join([strip.crop(0, start), Strip(middle, end - start), strip.crop(end)])

    def _strip(self, row: Sequence[Segment] | _Notice, width: int) -> Strip:
        if isinstance(row, _Notice):
            style = self._base + RichStyle(bold=True, reverse=True)
            return Strip([RichSegment(row.text, style)]).adjust_cell_length(width, self._base)
        rich = self._rich
        segments = [RichSegment(segment.text, rich(segment.style)) for segment in row]
        return Strip(segments).adjust_cell_length(width, self._base)

    def _rich(self, style: Style) -> RichStyle:
        """The Rich style for an emulator style (cached; equal styles are shared objects)."""
        if style is DEFAULT_STYLE:
            return self._base
        cached = self._styles.get(id(style))
        if cached is not None and cached[0] is style:
            return cached[1]
        rich = self._base + RichStyle(
            color=style.fg,
            bgcolor=style.bg,
            bold=style.bold or None,
            dim=style.dim or None,
            italic=style.italic or None,
            underline=style.underline or None,
            blink=style.blink or None,
            reverse=style.reverse or None,
            strike=style.strike or None,
        )
        if len(self._styles) > 4096:
            self._styles.clear()
        self._styles[id(style)] = (style, rich)  # holding the style keeps its id unique
        return rich

    # -- scrollback -------------------------------------------------------------------------

    @property
    def scrollback_offset(self) -> int:
        """How many rows the view is scrolled back from the live bottom (0: live)."""
        return self._scroll

    def scroll_history(self, rows: int) -> None:
        """Scroll the view ``rows`` back into the history (negative: towards the live bottom)."""
        snap = self.snapshot
        limit = snap.scrollback_len if snap is not None else 0
        scroll = max(0, min(self._scroll + rows, limit))
        if scroll != self._scroll:
            self._scroll = scroll
            self._relayout()

    # -- input ------------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        session = self.session
        if session is None:
            return
        try:
            session.write(data)
        except TerminalError:
            self.app.bell()  # ended meanwhile, or not reading its input
            return
        self.scroll_history(-self._scroll)

    def on_key(self, event: events.Key) -> None:
        key = event.key
        if not self.alive:
            if key == "enter":
                event.stop()
                event.prevent_default()
                self.start()
            elif key in ("shift+pageup", "shift+pagedown"):
                event.stop()
                self.scroll_history(self._page(key))
            return  # other keys go to the app's bindings (ctrl+w closes)
        bound = self._keymapped_bindings().key_to_bindings.get(key, [])
        if key in self.escape_keys or any(self.check_action(b.action, ()) for b in bound):
            return
        event.stop()
        event.prevent_default()
        snap = self.snapshot
        alt_screen = snap is not None and snap.modes.alt_screen
        if key in ("shift+pageup", "shift+pagedown") and not alt_screen:
            self.scroll_history(self._page(key))
            return
        data = key_bytes(event, app_cursor=snap is not None and snap.modes.app_cursor)
        if data:
            self._select(None)
            self._send(data)

    def _keymapped_bindings(self) -> BindingsMap:
        """This widget's bindings with the app's keymap applied (``ide.keymap``)."""
        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        cached = self._bindings_for
        if cached is None or cached[0] is not keymap:
            bindings = self._bindings.copy()
            bindings.apply_keymap(keymap)
            cached = self._bindings_for = (keymap, bindings)
        return cached[1]

    def _page(self, key: str) -> int:
        page = max(1, self.size.height - 1)
        return page if key == "shift+pageup" else -page

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        session = self.session
        if session is not None and self.alive and event.text:
            self._select(None)
            try:
                session.paste(event.text)
            except TerminalError:
                self.app.bell()
                return
            self.scroll_history(-self._scroll)

    def _wheel(self, event: events.MouseEvent, up: bool) -> None:
        event.stop()
        snap = self.snapshot
        modes = snap.modes if snap is not None and self.alive else None
        if modes is not None and modes.mouse and modes.mouse_mode != 9:
            self._report(modes, 64 if up else 65, event)
        elif modes is not None and modes.alt_screen:
            arrow = encode_key("up" if up else "down", app_cursor=modes.app_cursor)
            self._send((arrow or b"") * WHEEL_ROWS)
        else:
            self.scroll_history(WHEEL_ROWS if up else -WHEEL_ROWS)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, up=True)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, up=False)

    def action_leave(self) -> None:
        """Move focus out of the terminal (to the tab bar above it)."""
        self.blur()

    # -- mouse: reports to the program, or selection ----------------------------------------

    def _reporting(self, event: events.MouseEvent) -> Modes | None:
        """The modes, when the program takes this mouse event (it asked, and shift is up)."""
        snap = self.snapshot
        if snap is None or not self.alive or not snap.modes.mouse or event.shift:
            return None
        return snap.modes

    def _report(
        self, modes: Modes, button: int, event: events.MouseEvent, *, release: bool = False
    ) -> None:
        """Send one mouse report (xterm's encodings; ``button`` already has its motion bit)."""
        x = max(1, min(event.x + 1, self.size.width))
        y = max(1, min(event.y + 1, self.size.height))
        if modes.mouse_mode != 9:  # X10 mode reports no modifiers
            button |= (8 if event.meta else 0) | (16 if event.ctrl else 0)
        if modes.mouse_sgr:
            self._send(f"\x1b[<{button};{x};{y}{'m' if release else 'M'}".encode())
        elif x < 224 and y < 224:
            code = (button | 3) if release else button  # the legacy encoding has no button here
            self._send(b"\x1b[M" + bytes((32 + code, 32 + x, 32 + y)))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if not 1 <= event.button <= 3:
            return
        event.stop()
        modes = self._reporting(event)
        if modes is not None:
            self._report(modes, event.button - 1, event)
            self._motion_at = (event.x, event.y)
            if modes.mouse_mode != 9:  # X10 mode reports presses only
                self._reported = event.button - 1
                self.capture_mouse()
            return
        if event.button == 1:
            self._anchor = self._cell_at(event)
            self._select(None)
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._anchor is not None:
            self._drag_to(event)
            return
        snap = self.snapshot
        modes = snap.modes if snap is not None and self.alive else None
        if modes is None:
            return
        if (event.x, event.y) == self._motion_at:
            return  # like xterm: motion is reported when the pointer enters another cell
        self._motion_at = (event.x, event.y)
        if self._reported is not None and modes.mouse_mode in (1002, 1003):
            self._report(modes, self._reported + 32, event)  # button-event tracking: drags
        elif self._reported is None and modes.mouse_mode == 1003 and not event.shift:
            self._report(modes, 35, event)  # any-event tracking: motion with no button too

    def _drag_to(self, event: events.MouseEvent) -> None:
        assert self._anchor is not None
        end = self._cell_at(event)
        self._select(None if end == self._anchor else _ordered(self._anchor, end))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._reported is not None:
            event.stop()
            button, self._reported = self._reported, None
            snap = self.snapshot
            if snap is not None and snap.modes.mouse and self.alive:
                self._report(snap.modes, button, event, release=True)
            self.release_mouse()
        elif self._anchor is not None:
            event.stop()
            self._drag_to(event)
            self._anchor = None
            self.release_mouse()
            text = self.selected_text
            if text:
                self.app.copy_to_clipboard(text)  # copy on release, as most terminals do

    def _cell_at(self, event: events.MouseEvent) -> Cell:
        """The cell under the pointer, kept inside the widget while the mouse is captured."""
        x = max(0, min(event.x, self.size.width - 1))
        y = max(0, min(event.y, self.size.height - 1))
        return self._top + y, x

    # -- selection --------------------------------------------------------------------------

    @property
    def selected_text(self) -> str:
        """The selected text: rows joined with newlines, trailing spaces cut ("" if none)."""
        if self._selection is None:
            return ""
        (first, start), (last, end) = self._selection
        screen, _, _ = self._rows()
        lines = []
        for number, row in enumerate(self._rows_between(first, last + 1, screen), first):
            cut = _cells(
                _text(row), start if number == first else 0, end + 1 if number == last else None
            )
            lines.append(cut.rstrip(" "))
        return "\n".join(lines)

    def action_copy_selection(self) -> None:
        """Copy the selected text and end the selection."""
        text = self.selected_text
        self._select(None)
        if text:
            self.app.copy_to_clipboard(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_selection":
            return self._selection is not None
        return True

    def _select(self, selection: tuple[Cell, Cell] | None) -> None:
        if selection == self._selection:
            return
        had = self._selection is not None
        self._selection = selection
        self.refresh()
        if had != (selection is not None) and self.is_attached:
            self.screen.refresh_bindings()  # ctrl+y copies only while there is a selection

    def _selected_span(self, y: int, width: int) -> tuple[int, int] | None:
        """The selected cells ``start:end`` of view row ``y``, if any."""
        if self._selection is None:
            return None
        (first, start), (last, end) = self._selection
        row = self._top + y
        if not first <= row <= last:
            return None
        start = start if row == first else 0
        end = min(end + 1 if row == last else width, width)
        return (start, end) if start < end else None

    def _rows_between(
        self, first: int, last: int, screen: Sequence[Sequence[Segment] | _Notice]
    ) -> list[Sequence[Segment] | _Notice]:
        """Absolute rows ``first:last``: history from the session, then ``screen`` rows."""
        snap = self.snapshot
        dropped = snap.scrollback_dropped if snap is not None else 0
        history = snap.scrollback_len if snap is not None else 0
        low, high = first - dropped, last - dropped  # indexes into history + screen
        past: list[list[Segment]] = []
        if self.session is not None and low < history and high > 0:
            past = self.session.scrollback_lines(max(low, 0), min(high, history))
        rows: list[Sequence[Segment] | _Notice] = []
        offset = max(low, 0)
        for index in range(low, high):
            if 0 <= index < history and index - offset < len(past):
                rows.append(past[index - offset])
            elif history <= index < history + len(screen):
                rows.append(screen[index - history])
            else:
                rows.append(_BLANK)
        return rows

    def _selection_kept(self, old: Snapshot | None, new: Snapshot) -> bool:
        """Whether the selected text is still where the selection is, after new output.

        History rows never change, so only rows that were on the screen are compared; they
        may have moved up into the history meanwhile, which keeps their absolute row.
        """
        assert self._selection is not None
        (first, _), (last, _) = self._selection
        if old is None or new.scrollback_dropped > first:
            return False
        old_end = old.scrollback_dropped + old.scrollback_len
        if new.scrollback_dropped + new.scrollback_len < old_end:
            return False  # the history was cleared (ED 3, reset) or the screen switched
        if new.generation == old.generation or last < old_end:
            return True
        start = max(first, old_end)
        before = old.lines[start - old_end : last + 1 - old_end]
        after = self._rows_between(start, start + len(before), new.lines)
        return all(_text(a) == _text(b) for a, b in zip(before, after, strict=True))

    # -- focus, size, lifetime --------------------------------------------------------------

    def _focus_changed(self, focused: bool, report: bytes) -> None:
        # Our handlers run before Widget's, which set has_focus: keep our own flag.
        self._focused = focused
        snap = self.snapshot
        if snap is not None and snap.modes.focus_events and self.alive:
            self._send(report)
        self._relayout()

    def on_focus(self, _event: events.Focus) -> None:
        self._focus_changed(True, b"\x1b[I")

    def on_blur(self, _event: events.Blur) -> None:
        self._focus_changed(False, b"\x1b[O")

    def on_resize(self, _event: events.Resize) -> None:
        width, height = self.size
        if width < 1 or height < 1:
            return
        if self.session is None and self._notice is None:
            self.start()  # the first real size: the program starts at it, no SIGWINCH
            return
        if self.session is not None:
            self.session.resize(width, height)
        self._select(None)  # rows rewrap: the selected cells no longer hold the same text
        self._update(full=True)

    def on_unmount(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            _close(session, then=partial(self.keep_transcript, closed=True))

    def keep_transcript(self, session: PtySession | None = None, *, closed: bool = False) -> None:
        """Hand ``session``'s transcript (default: the running one's, so far) to
        ``on_transcript``, once per session; safe from any thread. ``closed``: the terminal
        is closing (not the program ending by itself)."""
        session = session or self.session
        if session is None or self.on_transcript is None or session.started_at is None:
            return
        with self._kept_lock:
            if session in self._kept:
                return
            self._kept.add(session)
        self.on_transcript(Transcript.of(session, closed=closed))


def _visible(row: Sequence[Segment] | _Notice) -> bool:
    """Whether a row shows anything (text, or a coloured background)."""
    if isinstance(row, _Notice):
        return True
    return any(s.text.strip(" ") or s.style.bg or s.style.reverse for s in row)


def _same(a: Sequence[Segment] | _Notice, b: Sequence[Segment] | _Notice) -> bool:
    # Screen rows are shared tuples: identity answers. History rows are fresh lists: compare.
    if a is b:
        return True
    if isinstance(a, _Notice) and isinstance(b, _Notice):
        return a.text == b.text
    return isinstance(a, list) and isinstance(b, list) and a == b


def _reversed(style: RichStyle | None) -> bool:
    return bool(style is not None and style.reverse)


def _text(row: Sequence[Segment] | _Notice) -> str:
    """A row's characters, trailing blanks cut."""
    text = row.text if isinstance(row, _Notice) else "".join(s.text for s in row)
    return text.rstrip(" ")


def _ordered(a: Cell, b: Cell) -> tuple[Cell, Cell]:
    return (a, b) if a <= b else (b, a)


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Cells ``start:end`` of a row, widened so that no wide character is cut in half."""
    x = 0
    for char in text:
        if x >= end:
            break
        width = get_character_cell_size(char)
        if x < start < x + width:
            start = x
        if x < end < x + width:
            end = x + width
        x += width
    return start, end


def _cells(text: str, start: int, end: int | None) -> str:
    """The characters of ``text`` in cells ``start:end``; a wide character counts once."""
    out: list[str] = []
    x = 0
    for char in text:
        if end is not None and x >= end:
            break
        width = get_character_cell_size(char)
        if x + width > start:
            out.append(char)
        x += width
    return "".join(out)
