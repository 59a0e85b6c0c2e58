"""``symphony`` on a real pseudo-terminal, as a user at a terminal runs it (prompts appear only
there): start it, read until a text shows, type keys, read until it ends."""

from __future__ import annotations

import signal
import sys
import time
from typing import TYPE_CHECKING

from ptyprocess import PtyProcessUnicode

if TYPE_CHECKING:
    from pathlib import Path


class PtyCli:
    """One ``python -m symphony_cli ARGS`` on a 100x24 pty; ``seen`` is everything it printed."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = PtyProcessUnicode.spawn(
            [sys.executable, "-m", "symphony_cli", *args], cwd=str(cwd), dimensions=(24, 100)
        )
        self.seen = ""

    def read_until(self, text: str, timeout: float = 30) -> str:
        """Read until ``text`` was printed (an AssertionError with the output if not in time)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen and time.monotonic() < deadline:
            try:
                self.seen += self.proc.read(4096)
            except EOFError:
                break
        assert text in self.seen, self.seen
        return self.seen

    def type(self, keys: str) -> None:
        self.proc.write(keys)

    def wait(self, timeout: float = 15) -> int:
        """Read until it exits; its exit status (an AssertionError if it is still running)."""
        deadline = time.monotonic() + timeout
        while self.proc.isalive() and time.monotonic() < deadline:
            try:
                self.seen += self.proc.read(4096)
            except EOFError:
                break
        assert not self.proc.isalive(), f"still running after {timeout} s:\n{self.seen}"
        self.proc.wait()
        status = self.proc.exitstatus
        assert status is not None, self.seen
        return int(status)

    def close(self) -> None:
        if self.proc.isalive():
            self.proc.kill(signal.SIGKILL)
