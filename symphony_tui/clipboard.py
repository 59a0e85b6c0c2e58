"""Putting text on the user's clipboard, locally, over SSH and inside tmux or GNU screen.

Two paths, used together when both apply:

* **OSC 52**: an escape sequence the app writes to its own terminal, which sets the clipboard of
  the machine the user sits at, even over SSH. Inside tmux it is also sent wrapped in tmux's DCS
  passthrough, inside GNU screen it is cut into DCS passthrough chunks. Terminals cap the size
  they accept and drop anything larger without a word, so payloads above
  :data:`OSC52_LIMIT` are not sent at all and the user is told instead.
* **A native tool** (``wl-copy``, ``xclip``, ``xsel``, ``pbcopy``, ``clip.exe``) when one is
  installed and can reach a clipboard: a display for the X and Wayland tools, a local session
  for ``pbcopy`` and ``clip.exe``. Over SSH without a forwarded display there is none.

Everything the outside world provides (the terminal writer, the environment, ``subprocess.run``,
``shutil.which``, the platform) is a parameter, so tests need no real clipboard. This module
must not import Textual: the app passes its driver's ``write`` in.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "NATIVE_TIMEOUT",
    "OSC52_LIMIT",
    "SCREEN_DCS_LIMIT",
    "CopyResult",
    "PayloadTooLarge",
    "copy",
    "native_copy_command",
    "osc52_sequence",
]

#: Largest OSC 52 payload sent, in bytes of base64 (about 73 KB of text). 100,000 is the cap of
#: hterm's ``osc52.sh`` and vim-oscyank: xterm, kitty and tmux accept more, but some terminals
#: silently drop longer sequences, and a clear "too large" beats a copy that did nothing.
OSC52_LIMIT = 100_000
#: Longest DCS string GNU screen passes through: 768 bytes since screen 4.2.1, 512 and 256 in
#: older releases; the smallest is used so every release gets the whole sequence.
SCREEN_DCS_LIMIT = 256
#: Seconds a native clipboard tool may take to read its input and return.
NATIVE_TIMEOUT = 3.0

Runner = Callable[..., Any]
"""``subprocess.run`` or a stand-in with the same call signature."""


class PayloadTooLarge(ValueError):
    """The text is too large for OSC 52 (more than :data:`OSC52_LIMIT` bytes of base64).

    Attributes:
        size: the base64 payload's length in bytes.
        limit: the limit it exceeds.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"OSC 52 payload of {size:,} bytes exceeds the limit of {limit:,}")
        self.size = size
        self.limit = limit


def osc52_sequence(text: str, *, tmux: bool, screen: bool = False, limit: int = OSC52_LIMIT) -> str:
    """The escape sequence that puts ``text`` on the terminal's clipboard.

    Args:
        text: what to copy (sent as UTF-8).
        tmux: wrap it in tmux's passthrough (``ESC P tmux; … ESC \\`` with every ESC doubled).
        screen: wrap it in GNU screen's DCS passthrough, in chunks screen accepts (ignored
            when ``tmux`` is set).
        limit: the largest base64 payload allowed.

    Raises:
        PayloadTooLarge: the base64 payload is longer than ``limit``.
    """
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if len(payload) > limit:
        raise PayloadTooLarge(len(payload), limit)
    sequence = f"\x1b]52;c;{payload}\x07"
    if tmux:
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    if screen:
        # Each chunk becomes its own DCS string; screen passes the contents on unchanged, so
        # the terminal sees the pieces back to back as one OSC 52.
        size = SCREEN_DCS_LIMIT - 4  # room for ESC P and ESC \ around each chunk
        chunks = (sequence[i : i + size] for i in range(0, len(sequence), size))
        return "".join(f"\x1bP{chunk}\x1b\\" for chunk in chunks)
    return sequence


def in_tmux(env: Mapping[str, str]) -> bool:
    """Whether the app runs inside tmux."""
    return bool(env.get("TMUX"))


def in_screen(env: Mapping[str, str]) -> bool:
    """Whether the app runs inside GNU screen (and not in a tmux inside it)."""
    if in_tmux(env):
        return False
    return bool(env.get("STY")) or env.get("TERM", "").startswith("screen")


def over_ssh(env: Mapping[str, str]) -> bool:
    """Whether the app runs in an SSH session."""
    return any(env.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"))


def native_copy_command(
    env: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    *,
    platform: str = sys.platform,
) -> list[str] | None:
    """The command that copies its standard input to a clipboard here, or None.

    Wayland first (``wl-copy``), then X (``xclip``, ``xsel``) when their display is set, even
    over SSH (a forwarded display is the user's); ``pbcopy`` on macOS and ``clip.exe`` under
    WSL only outside SSH, where they would fill the clipboard of the wrong machine.

    Args:
        env: the environment to judge (displays, SSH, WSL).
        which: finds a program on ``PATH`` (``shutil.which``).
        platform: ``sys.platform``.
    """
    candidates: list[list[str]] = []
    if env.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if env.get("DISPLAY"):
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    if not over_ssh(env):
        if platform == "darwin":
            candidates.append(["pbcopy"])
        elif env.get("WSL_DISTRO_NAME") or env.get("WSL_INTEROP"):
            candidates.append(["clip.exe"])
    for argv in candidates:
        path = which(argv[0])
        if path:
            return [path, *argv[1:]]
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyResult:
    """What :func:`copy` did.

    Attributes:
        chars: how many characters were copied.
        osc52: whether the OSC 52 sequence was written to the terminal.
        native: the native tool that took the text (its name), or None.
        too_large: whether the text was over the OSC 52 limit.
        error: why the native tool failed, if it did.
        message: one line for the user.
    """

    chars: int
    osc52: bool
    native: str | None
    too_large: bool
    error: str | None
    message: str

    @property
    def ok(self) -> bool:
        """Whether the text went anywhere beyond the app's own clipboard."""
        return self.osc52 or self.native is not None


def copy(
    text: str,
    *,
    write: Callable[[str], None] | None,
    env: Mapping[str, str] = os.environ,
    run: Runner = subprocess.run,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
    native: bool = True,
    limit: int = OSC52_LIMIT,
) -> CopyResult:
    """Copy ``text`` with OSC 52 through ``write`` and with a native tool when one applies.

    Args:
        text: what to copy.
        write: writes a string to the app's terminal (the driver's ``write``); None when there
            is no terminal.
        env: the environment (tmux, screen, displays, SSH).
        run: runs the native tool (``subprocess.run``).
        which: finds the native tool (``shutil.which``).
        platform: ``sys.platform``.
        native: whether a native tool may be used at all (off in headless tests).
        limit: the largest OSC 52 payload, in bytes of base64.
    """
    count = f"{len(text):,} character{'s' if len(text) != 1 else ''}"
    osc52 = too_large = False
    size = 0
    if write is not None:
        try:
            sequence = osc52_sequence(text, tmux=in_tmux(env), screen=in_screen(env), limit=limit)
        except PayloadTooLarge as e:
            too_large, size = True, e.size
        else:
            if in_tmux(env):
                # tmux 3.3+ blocks passthrough unless allow-passthrough is on, but takes the
                # plain sequence itself when set-clipboard is on: send both, one gets through.
                sequence += osc52_sequence(text, tmux=False, limit=limit)
            write(sequence)
            osc52 = True
    tool, error = None, None
    argv = native_copy_command(env, which, platform=platform) if native else None
    if argv is not None:
        error = _run_native(argv, text, run)
        if error is None:
            tool = PurePath(argv[0]).name
    if too_large:
        where = f"Too large for the terminal clipboard ({size / 1000:,.0f} KB of base64)"
        if tool is not None:
            message = f"Copied {count} via {tool} (too large for the terminal clipboard)"
        elif error is not None:
            message = f"{where}; {error}"
        else:
            message = f"{where}; no clipboard tool found"
    elif tool is not None:
        message = f"Copied {count} " + (f"(terminal and {tool})" if osc52 else f"via {tool}")
    elif osc52:
        message = f"Copied {count}"
    else:
        message = f"Could not copy: no terminal to send it to; {error or 'no clipboard tool found'}"
    return CopyResult(
        chars=len(text),
        osc52=osc52,
        native=tool,
        too_large=too_large,
        error=error,
        message=message,
    )


def _run_native(argv: Sequence[str], text: str, run: Runner) -> str | None:
    """Pipe ``text`` to ``argv``; None on success, else why it failed."""
    name = PurePath(argv[0]).name
    # clip.exe reads the console code page unless the input is marked as UTF-16.
    data = ("\ufeff" + text).encode("utf-16-le") if name == "clip.exe" else text.encode()
    try:
        # No pipes for its output: xclip and wl-copy leave a child serving the selection that
        # keeps them open, and run() would wait for it.
        result = run(
            list(argv),
            input=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=NATIVE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{name} did not finish within {NATIVE_TIMEOUT:g} s"
    except OSError as e:
        return f"{name} failed: {e.strerror or e}"
    if result.returncode != 0:
        return f"{name} failed with exit status {result.returncode}"
    return None
