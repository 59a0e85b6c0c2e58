"""A program started in a new pseudo-terminal, and reaped by a thread of its own.

ptyprocess does the fork/exec (``setsid``, controlling terminal, window size, exec errors
reported back to the parent); this module owns the rest of the child's life. A waiter thread
blocks in ``waitpid`` so the exit status is known the moment the program ends, even when a
background job it left keeps the terminal open. ptyprocess's own waiting (in ``close()``,
``isalive()`` and on garbage collection) is kept out of the way: it would race the waiter for
the same child. Stopping sends signals to process groups, because a shell's foreground job runs
in a group of its own. This module does not read or write the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from typing import TYPE_CHECKING

from ptyprocess import PtyProcess

from engine.types.errors import TerminalError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

__all__ = ["PtyChild", "TerminalError"]

log = logging.getLogger(__name__)


class PtyChild:
    """A running program on the slave side of a new PTY; this process holds the master.

    Args:
        argv: the program (looked up on the environment's ``PATH``) and its arguments.
        cwd: its working directory.
        env: its whole environment.
        cols: initial terminal width.
        rows: initial terminal height.
        on_exit: called from the waiter thread once the program has been reaped.

    Raises:
        TerminalError: the program was not found or could not be executed.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        cols: int,
        rows: int,
        on_exit: Callable[[], None],
    ) -> None:
        program = shutil.which(argv[0], path=env.get("PATH", os.defpath))
        if program is None:
            raise TerminalError(f"cannot start a terminal: {argv[0]!r} was not found")
        try:
            proc = PtyProcess.spawn(
                [program, *argv[1:]], cwd=str(cwd), env=dict(env), dimensions=(rows, cols)
            )
        except OSError as e:
            raise TerminalError(f"cannot start {argv[0]!r} in a terminal: {e}") from e
        # ptyprocess sleeps 100 ms in close() (also on garbage collection) otherwise.
        proc.delayafterclose = 0
        proc.delayafterterminate = 0
        self._proc = proc
        self.pid: int = proc.pid
        self.fd: int = proc.fd
        """The PTY master, non-blocking; valid until :meth:`close_pty`."""
        os.set_blocking(self.fd, False)
        self.exited = threading.Event()
        self.exit_status: int | None = None
        self._on_exit = on_exit
        self._fd_lock = threading.Lock()
        self._pty_closed = False
        self._waiter = threading.Thread(
            target=self._reap, name=f"symphony-terminal-{self.pid}:waiter", daemon=True
        )
        self._waiter.start()

    def signal_groups(self, signum: int) -> None:
        """Signal the program's process group and the terminal's foreground process group."""
        if self.exited.is_set():
            return  # the pid (and maybe its group id) could belong to someone else by now
        groups = {self.pid}
        with self._fd_lock, contextlib.suppress(OSError):
            if not self._pty_closed:
                groups.add(os.tcgetpgrp(self.fd))
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)

    def set_size(self, cols: int, rows: int) -> None:
        """Set the terminal size; the kernel sends SIGWINCH to the foreground group."""
        with self._fd_lock, contextlib.suppress(OSError):
            if not self._pty_closed:
                self._proc.setwinsize(rows, cols)

    def close_pty(self) -> None:
        """Close the master side (idempotent). Only once nothing reads or writes it any more."""
        with self._fd_lock:
            if self._pty_closed:
                return
            self._pty_closed = True
            # Not ptyprocess's close(): it would waitpid() the child the waiter reaps. Marking
            # it closed keeps its __del__ from trying.
            with contextlib.suppress(OSError):
                self._proc.fileobj.close()
            self._proc.closed = True

    def join(self, timeout: float) -> None:
        """Wait for the waiter thread (it ends when the program has been reaped)."""
        if self._waiter is not threading.current_thread():
            self._waiter.join(timeout)

    def _reap(self) -> None:
        status: int | None = None
        while True:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                log.warning("terminal child %d was reaped elsewhere", self.pid)
                status = None
                break
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                break
        if status is not None:
            self.exit_status = os.waitstatus_to_exitcode(status)
        self.exited.set()
        self._on_exit()
