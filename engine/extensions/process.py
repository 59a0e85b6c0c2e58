"""Running a program for an extension: output capture, streaming, timeout and cancellation.

The child starts in its own session (a new process group), so stopping it reaches everything it
started too: ``pytest`` workers, a shell's pipeline. On timeout or cancellation the group gets
SIGTERM, then SIGKILL after a grace period. Output is read by two threads as it arrives (so a
chatty child never blocks on a full pipe) and handed to an optional callback for live logs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from symphony_sdk.context import ProcessResult

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import IO

__all__ = ["BASE_ENV", "run_process"]

# Variables every child gets from Symphony's environment, whatever the extension may read:
# without them most tools cannot even start. Secrets never live in these.
BASE_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
)

GRACE_S = 2.0
POLL_S = 0.05
MAX_CAPTURE = 64 * 1024 * 1024  # bytes kept per stream; the rest is counted, not kept


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    input: bytes | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    on_output: Callable[[str, str], None] | None = None,
) -> ProcessResult:
    """Run ``argv`` to completion and return what it did.

    Raises:
        Cancelled: ``cancel`` was set; the process group was stopped.
        OSError: the program cannot be started (not found, not executable).
    """
    from engine.types.errors import Cancelled

    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    out = _Reader(proc.stdout, "stdout", on_output)
    err = _Reader(proc.stderr, "stderr", on_output)
    if input is not None and proc.stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, input), daemon=True).start()
    deadline = None if timeout is None else start + timeout
    timed_out = cancelled = False
    while True:
        try:
            proc.wait(POLL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            cancelled = True
        elif deadline is not None and time.monotonic() >= deadline:
            timed_out = True
        if cancelled or timed_out:
            _stop_group(proc)
            break
    # The group may still hold the pipes open (a daemonised grandchild): don't wait forever.
    out.join(GRACE_S)
    err.join(GRACE_S)
    if cancelled:
        raise Cancelled(f"{argv[0]} was stopped: the step was cancelled")
    return ProcessResult(
        argv=tuple(argv),
        returncode=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - start,
        timed_out=timed_out,
        dropped=out.dropped + err.dropped,
    )


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            # The leader is gone; make sure the rest of its group is too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


class _Reader:
    """Drain one pipe on a thread, keeping up to MAX_CAPTURE bytes."""

    def __init__(
        self, pipe: IO[bytes] | None, stream: str, on_output: Callable[[str, str], None] | None
    ) -> None:
        self._pipe = pipe
        self._stream = stream
        self._on_output = on_output
        self._chunks: list[bytes] = []
        self._kept = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"proc-{stream}")
        self._thread.start()

    def _run(self) -> None:
        if self._pipe is None:
            return
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._pipe.read1(65536):  # type: ignore[attr-defined]
                if self._kept < MAX_CAPTURE:
                    self._chunks.append(chunk)
                    self._kept += len(chunk)
                else:
                    self.dropped += len(chunk)
                if self._on_output is not None:
                    text = decoder.decode(chunk)
                    if text:
                        with contextlib.suppress(Exception):  # a broken callback must not hang us
                            self._on_output(self._stream, text)
        with contextlib.suppress(OSError):
            self._pipe.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        text = b"".join(self._chunks).decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[… {self.dropped} more bytes not kept]\n"
        return text
