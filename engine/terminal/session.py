"""A program running in a pseudo-terminal, its output kept on an emulated screen (SPEC §3.9).

:class:`PtySession` starts a shell or command in a PTY (:class:`~engine.terminal.process.PtyChild`,
whose own thread reaps it) and runs one I/O thread that reads output in bulk (up to 64 KiB per
read), feeds it to the emulator under a lock, and writes queued input. Front ends are told about
changes through ``on_update``, coalesced to at most ``max_fps`` calls a second with a trailing
call once output stops, so a flood (``cat`` of a 20 MB log) costs the UI a bounded number of
frames while the last frame is never lost. They read the screen with
:meth:`PtySession.snapshot`, an immutable copy taken under the lock.

Input is queued (bounded) and written by the I/O thread without blocking, so a program that does
not read its input cannot freeze the caller. This module must not import the UI, and it never
calls ``on_update`` with the lock held.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.terminal.emulator import DEFAULT_SCROLLBACK, AvtEmulator
from engine.terminal.process import PtyChild, TerminalError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType

    from engine.terminal.emulator import Cursor, Segment
    from engine.terminal.modes import Modes

__all__ = ["MAX_PENDING_INPUT", "PtySession", "Snapshot", "TerminalError"]

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
#: Input bytes that may wait for a program to read them before :meth:`PtySession.write` refuses.
MAX_PENDING_INPUT = 4 * 1024 * 1024
_EOF_GRACE = 1.0  # seconds wait() gives the I/O thread to drain output after the child exits
_KILL_WAIT = 2.0  # seconds close() waits for the child after SIGKILL
_PASTE_START = b"\x1b[200~"
_PASTE_END = b"\x1b[201~"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a renderer needs from a session at one instant; immutable and self-consistent.

    Attributes:
        lines: the visible screen, one tuple of segments per row.
        cursor: cursor position and visibility.
        modes: terminal modes (bracketed paste, application cursor keys, alternate screen…).
        scrollback_len: history rows available through :meth:`PtySession.scrollback_lines`.
        scrollback_dropped: history rows dropped from the front so far (see
            :attr:`engine.terminal.emulator.AvtEmulator.scrollback_dropped`).
        cols: screen width.
        rows: screen height.
        title: the window title the program set, or ``""``.
        generation: increases whenever output or a resize changed the screen.
        alive: whether the program is still running.
        exit_status: its exit code, ``-signal`` if a signal ended it, None while it runs.
    """

    lines: tuple[tuple[Segment, ...], ...]
    cursor: Cursor
    modes: Modes
    scrollback_len: int
    scrollback_dropped: int
    cols: int
    rows: int
    title: str
    generation: int
    alive: bool
    exit_status: int | None

    def text(self) -> list[str]:
        """The visible rows as text, trailing spaces stripped."""
        return ["".join(segment.text for segment in row).rstrip(" ") for row in self.lines]


class PtySession:
    """A program in a PTY with an emulated screen. Thread-safe; a context manager.

    Args:
        argv: the program and its arguments; None runs ``$SHELL`` (or ``/bin/sh``).
        cwd: the working directory (the workspace).
        env: the program's full environment; None inherits this process's. ``TERM`` and
            ``COLORTERM`` are set to match the emulator; ``COLUMNS`` and ``LINES`` are removed
            (like tmux and xterm do): they would go stale at the first resize, and programs
            read the size from the terminal instead.
        cols: initial screen width.
        rows: initial screen height.
        scrollback: history rows kept.
        on_update: called (from the I/O thread, without the lock) when the screen or the
            program's state changed; at most ``max_fps`` times a second plus a final call.
            It must be quick and must not call :meth:`close`.
        max_fps: the rate limit for ``on_update``.
    """

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        cols: int = 80,
        rows: int = 24,
        scrollback: int = DEFAULT_SCROLLBACK,
        on_update: Callable[[], None] | None = None,
        max_fps: float = 60.0,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        environment = dict(os.environ if env is None else env)
        self.argv: list[str] = list(argv) if argv else [environment.get("SHELL") or "/bin/sh"]
        self.cwd = cwd
        self._env = environment
        self._emulator = AvtEmulator(cols, rows, scrollback)
        self._on_update = on_update
        self._interval = 1.0 / max_fps
        self._lock = threading.Lock()  # guards the emulator
        self._state_lock = threading.Lock()  # guards start/close and the input queue
        self._input = bytearray()
        self._child: PtyChild | None = None
        self._wake_r = -1
        self._wake_w = -1
        self._io_thread: threading.Thread | None = None
        self._eof = threading.Event()
        self._closing = False
        self._closed = False
        self.bytes_read = 0
        """Output bytes read from the program so far."""
        self.started_at: float | None = None
        """When the program started (``time.time()``), once it has."""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> PtySession:
        """Start the program. Raises :class:`TerminalError` if it cannot be started."""
        with self._state_lock:
            if self._child is not None or self._closed:
                raise TerminalError("a terminal session can be started only once")
            self._env.update(TERM="xterm-256color", COLORTERM="truecolor")
            self._env.pop("COLUMNS", None)
            self._env.pop("LINES", None)
            self._wake_r, self._wake_w = os.pipe()
            for fd in (self._wake_r, self._wake_w):
                os.set_blocking(fd, False)
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            try:
                child = PtyChild(
                    self.argv,
                    cwd=self.cwd,
                    env=self._env,
                    cols=self._emulator.cols,
                    rows=self._emulator.rows,
                    on_exit=self._wake,
                )
            except TerminalError:
                self._close_wake_pipe()
                raise
            self._child = child
            self.started_at = time.time()
            self._io_thread = threading.Thread(
                target=self._run_io, name=f"symphony-terminal-{child.pid}:io", daemon=True
            )
            self._io_thread.start()
        return self

    def close(self, timeout: float = 1.0) -> int | None:
        """Stop the program and release the PTY; safe to call more than once.

        Sends SIGHUP to the program's process group (and the terminal's foreground group),
        waits up to ``timeout`` seconds, then sends SIGKILL. Returns the exit status, if known.
        """
        with self._state_lock:
            if self._closed:
                return self.exit_status
            self._closed = True
            self._closing = True
            child = self._child
        if child is None:
            return None
        if not child.exited.is_set():
            child.signal_groups(signal.SIGHUP)
            if not child.exited.wait(timeout):
                child.signal_groups(signal.SIGKILL)
                child.exited.wait(_KILL_WAIT)
        self._wake()
        io_thread = self._io_thread
        if io_thread is not None and io_thread is not threading.current_thread():
            io_thread.join(_KILL_WAIT)
        child.join(_KILL_WAIT)
        child.close_pty()
        with self._state_lock:
            self._close_wake_pipe()
        return child.exit_status

    def __enter__(self) -> PtySession:
        if self._child is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the program to exit and its output to be read; its exit status, or None.

        If something else (a background job) keeps the terminal open after the program exits,
        the output is waited for only briefly.
        """
        child = self._child
        if child is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        if not child.exited.wait(timeout):
            return None
        remaining = _EOF_GRACE if deadline is None else max(0.0, deadline - time.monotonic())
        if self._eof.wait(min(remaining, _EOF_GRACE)):
            # The I/O thread ends right after the final on_update call; let it make that call.
            io_thread = self._io_thread
            if io_thread is not None and io_thread is not threading.current_thread():
                io_thread.join(max(0.0, remaining))
        return child.exit_status

    @property
    def pid(self) -> int | None:
        """The program's process id (None before :meth:`start`)."""
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        """Whether the program has been started and has not exited."""
        return self._child is not None and not self._child.exited.is_set()

    @property
    def exit_status(self) -> int | None:
        """The exit code, ``-signal`` if a signal ended the program, None while it runs."""
        return self._child.exit_status if self._child is not None else None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- input ------------------------------------------------------------------------------

    def write(self, data: bytes | str) -> None:
        """Queue input for the program (keystrokes, already encoded; str is sent as UTF-8).

        Raises:
            TerminalError: the session is closed or not started, or the program has left more
                than :data:`MAX_PENDING_INPUT` bytes unread.
        """
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if not payload:
            return
        with self._state_lock:
            if self._child is None or self._closed:
                raise TerminalError("the terminal is not running")
            if self._eof.is_set():
                raise TerminalError("the program in the terminal has ended")
            if len(self._input) + len(payload) > MAX_PENDING_INPUT:
                raise TerminalError("the program in the terminal is not reading its input")
            self._input += payload
        self._wake()

    def paste(self, text: str) -> None:
        """Send pasted text, bracketed when the program asked for bracketed paste.

        Escape characters are removed so pasted text cannot end the bracket early or inject
        control sequences; newlines are sent as carriage returns, as terminals do.
        """
        cleaned = text.replace("\x1b", "").replace("\r\n", "\r").replace("\n", "\r")
        payload = cleaned.encode()
        with self._lock:
            bracketed = self._emulator.modes.bracketed_paste
        if bracketed:
            payload = _PASTE_START + payload + _PASTE_END
        self.write(payload)

    def resize(self, cols: int, rows: int) -> None:
        """Resize the screen and the PTY (the program gets SIGWINCH)."""
        with self._lock:
            changed = (cols, rows) != (self._emulator.cols, self._emulator.rows)
            self._emulator.resize(cols, rows)
        child = self._child
        if changed and child is not None:
            child.set_size(cols, rows)

    # -- output -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """An immutable copy of the screen, cursor, modes and status."""
        with self._lock:
            emulator = self._emulator
            return Snapshot(
                lines=emulator.screen_rows(),
                cursor=emulator.cursor(),
                modes=emulator.modes,
                scrollback_len=emulator.scrollback_len(),
                scrollback_dropped=emulator.scrollback_dropped,
                cols=emulator.cols,
                rows=emulator.rows,
                title=emulator.title(),
                generation=emulator.generation,
                alive=self.alive,
                exit_status=self.exit_status,
            )

    def scrollback_lines(self, start: int, end: int) -> list[list[Segment]]:
        """History rows ``start:end`` (slice semantics), oldest first."""
        with self._lock:
            return self._emulator.scrollback_lines(start, end)

    def text(self) -> list[str]:
        """The visible rows as text, trailing spaces stripped."""
        with self._lock:
            return self._emulator.text()

    def transcript(self) -> str:
        """The whole main-screen history and screen as text (for saving as an artifact)."""
        with self._lock:
            return self._emulator.transcript()

    # -- threads ----------------------------------------------------------------------------

    def _wake(self) -> None:
        # Under the lock, so the pipe cannot be closed (and its number reused) meanwhile.
        with self._state_lock, contextlib.suppress(OSError):  # a full pipe wakes it anyway
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")

    def _close_wake_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _run_io(self) -> None:
        try:
            self._io_loop()
        except Exception:
            log.exception("terminal %s: the I/O thread failed", self.argv[0])
        finally:
            self._eof.set()

    def _io_loop(self) -> None:
        assert self._child is not None
        exited = self._child.exited
        fd, wake_r = self._child.fd, self._wake_r
        poller = select.poll()
        poller.register(wake_r, select.POLLIN)
        poller.register(fd, select.POLLIN)
        reading = True
        want_write = False
        pending_frame = False
        last_frame = 0.0
        exit_seen = False
        interval = self._interval
        emulator, lock = self._emulator, self._lock
        while not self._closing:
            want = bool(self._input) and reading
            if reading and want != want_write:
                mask = select.POLLIN | (select.POLLOUT if want else 0)
                poller.register(fd, mask)  # re-registering replaces the mask
                want_write = want
            timeout_ms: float | None = None
            if pending_frame:
                timeout_ms = max(0.0, (last_frame + interval - time.monotonic()) * 1000)
            events = poller.poll(timeout_ms)
            for event_fd, mask in events:
                if event_fd == wake_r:
                    with contextlib.suppress(OSError):
                        os.read(wake_r, 4096)
                    continue
                if mask & select.POLLOUT:
                    self._flush_input(fd)
                if mask & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    data = self._read(fd)
                    if data is None:
                        reading = False
                        poller.unregister(fd)
                        self._eof.set()
                        with self._state_lock:
                            self._input.clear()
                    elif data:
                        with lock:
                            emulator.feed(data)
                        self.bytes_read += len(data)
                        pending_frame = True
            if exited.is_set() and not exit_seen:
                exit_seen = True
                pending_frame = True
            if pending_frame and (
                time.monotonic() - last_frame >= interval or (not reading and exit_seen)
            ):
                pending_frame = False
                last_frame = time.monotonic()
                self._notify()
            if not reading and exit_seen:
                break

    def _read(self, fd: int) -> bytes | None:
        """Read what is there; b'' if nothing yet, None at end of output."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno != errno.EIO:  # EIO is Linux's end of output: every slave side closed
                log.warning("terminal %s: reading output failed: %s", self.argv[0], e)
            return None
        return data or None

    def _flush_input(self, fd: int) -> None:
        with self._state_lock:
            pending = bytes(self._input[:READ_SIZE])
        if not pending:
            return
        try:
            written = os.write(fd, pending)
        except BlockingIOError:
            return
        except OSError as e:
            log.warning("terminal %s: input lost: %s", self.argv[0], e)
            written = len(pending)
        with self._state_lock:
            del self._input[:written]

    def _notify(self) -> None:
        callback = self._on_update
        if callback is None:
            return
        try:
            callback()
        except Exception:
            # A broken front end must not stop the terminal from reading output.
            log.exception("terminal %s: on_update callback failed", self.argv[0])
