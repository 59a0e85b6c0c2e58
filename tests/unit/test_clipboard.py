"""The clipboard paths: OSC 52 sequences (plain, tmux, GNU screen), the size guard, the choice of
a native tool, and copy() with real helper programs standing in for xclip and clip.exe."""

from __future__ import annotations

import base64
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from symphony_tui import clipboard
from symphony_tui.clipboard import (
    OSC52_LIMIT,
    SCREEN_DCS_LIMIT,
    PayloadTooLarge,
    copy,
    native_copy_command,
    osc52_sequence,
)

# -- sequences ------------------------------------------------------------------------------


def test_plain_sequence_is_base64_utf8_ended_by_bel() -> None:
    assert osc52_sequence("hi", tmux=False) == "\x1b]52;c;aGk=\x07"
    assert osc52_sequence("é✓", tmux=False) == "\x1b]52;c;w6ninJM=\x07"


def test_tmux_passthrough_doubles_every_escape() -> None:
    assert osc52_sequence("hi", tmux=True) == "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\"
    # tmux wins over screen: TERM=screen is common inside tmux.
    assert osc52_sequence("hi", tmux=True, screen=True) == osc52_sequence("hi", tmux=True)


def test_screen_passthrough_short() -> None:
    assert osc52_sequence("hi", tmux=False, screen=True) == "\x1bP\x1b]52;c;aGk=\x07\x1b\\"


def test_screen_passthrough_is_chunked_under_screens_limit() -> None:
    text = "a" * 300  # 400 bytes of base64: a 408-byte sequence, two chunks
    plain = osc52_sequence(text, tmux=False)
    assert len(plain) == 408
    wrapped = osc52_sequence(text, tmux=False, screen=True)
    assert wrapped == f"\x1bP{plain[:252]}\x1b\\\x1bP{plain[252:]}\x1b\\"
    assert all(len(chunk) + 2 <= SCREEN_DCS_LIMIT for chunk in wrapped.split("\x1b\\") if chunk)


def test_size_guard_allows_the_limit_and_refuses_one_byte_more() -> None:
    assert OSC52_LIMIT == 100_000
    at_limit = "x" * 75_000  # exactly 100,000 bytes of base64
    sequence = osc52_sequence(at_limit, tmux=False)
    assert base64.b64decode(sequence[7:-1]) == at_limit.encode()
    with pytest.raises(PayloadTooLarge) as caught:
        osc52_sequence(at_limit + "x", tmux=False)
    assert (caught.value.size, caught.value.limit) == (100_004, 100_000)
    with pytest.raises(PayloadTooLarge):
        osc52_sequence("hello", tmux=False, limit=4)


# -- choosing a native tool ------------------------------------------------------------------


Which = Callable[[str], str | None]


def finder(*tools: str) -> Which:
    """A ``which`` that knows only ``tools``, installed in /usr/bin."""
    return lambda name: f"/usr/bin/{name}" if name in tools else None


ALL = finder("wl-copy", "xclip", "xsel", "pbcopy", "clip.exe")


@pytest.mark.parametrize(
    ("env", "which", "platform", "expected"),
    [
        ({"WAYLAND_DISPLAY": "wayland-0"}, ALL, "linux", ["/usr/bin/wl-copy"]),
        (
            {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
            finder("xclip"),
            "linux",
            ["/usr/bin/xclip", "-selection", "clipboard"],
        ),
        ({"DISPLAY": ":0"}, ALL, "linux", ["/usr/bin/xclip", "-selection", "clipboard"]),
        ({"DISPLAY": ":0"}, finder("xsel"), "linux", ["/usr/bin/xsel", "--clipboard", "--input"]),
        ({"DISPLAY": ":0"}, finder("wl-copy"), "linux", None),  # wl-copy needs Wayland
        ({}, ALL, "linux", None),  # no display
        ({"SSH_CONNECTION": "1 2 3 4"}, ALL, "linux", None),
        # A forwarded X display is the user's own.
        (
            {"SSH_CONNECTION": "1 2 3 4", "DISPLAY": "localhost:10.0"},
            ALL,
            "linux",
            ["/usr/bin/xclip", "-selection", "clipboard"],
        ),
        ({}, ALL, "darwin", ["/usr/bin/pbcopy"]),
        ({"SSH_TTY": "/dev/pts/3"}, ALL, "darwin", None),  # the remote Mac's clipboard
        ({"WSL_DISTRO_NAME": "Ubuntu"}, ALL, "linux", ["/usr/bin/clip.exe"]),
        ({"WSL_DISTRO_NAME": "Ubuntu", "SSH_CLIENT": "1 2 3"}, ALL, "linux", None),
        ({"WSL_DISTRO_NAME": "Ubuntu"}, finder(), "linux", None),
    ],
)
def test_native_tool_choice(
    env: dict[str, str], which: Which, platform: str, expected: list[str] | None
) -> None:
    assert native_copy_command(env, which, platform=platform) == expected


# -- copy() ----------------------------------------------------------------------------------


def no_tools(_name: str) -> None:
    return None


def test_copy_writes_osc52_and_reports_the_count() -> None:
    written: list[str] = []
    result = copy("hi", write=written.append, env={}, which=no_tools, platform="linux")
    assert written == ["\x1b]52;c;aGk=\x07"]
    assert result.osc52 and result.native is None and result.ok
    assert result.message == "Copied 2 characters"
    written.clear()
    assert copy("x" * 1234, write=written.append, env={}, which=no_tools).message == (
        "Copied 1,234 characters"
    )
    assert copy("x", write=written.append, env={}, which=no_tools).message == "Copied 1 character"


def test_copy_inside_tmux_sends_the_passthrough_and_the_plain_sequence() -> None:
    written: list[str] = []
    env = {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "screen-256color"}
    copy("hi", write=written.append, env=env, which=no_tools)
    assert written == ["\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\\x1b]52;c;aGk=\x07"]


@pytest.mark.parametrize("env", [{"STY": "1234.pts-0.host"}, {"TERM": "screen.xterm-256color"}])
def test_copy_inside_screen_uses_dcs_chunks(env: dict[str, str]) -> None:
    written: list[str] = []
    copy("hi", write=written.append, env=env, which=no_tools)
    assert written == ["\x1bP\x1b]52;c;aGk=\x07\x1b\\"]


def test_copy_too_large_without_a_tool_says_so_and_writes_nothing() -> None:
    written: list[str] = []
    result = copy("x" * 80_000, write=written.append, env={}, which=no_tools, platform="linux")
    assert written == []
    assert not result.ok and result.too_large
    assert result.message == (
        "Too large for the terminal clipboard (107 KB of base64); no clipboard tool found"
    )


def test_copy_without_terminal_or_tool() -> None:
    result = copy("hi", write=None, env={}, which=no_tools, platform="linux")
    assert not result.ok
    assert result.message == "Could not copy: no terminal to send it to; no clipboard tool found"


# -- copy() with real programs as the clipboard tool ----------------------------------------


def fake_tool(folder: Path, name: str, body: str) -> Path:
    """An executable shell script called ``name`` whose stdin becomes ``<folder>/<name>.out``."""
    script = folder / name
    out = folder / f"{name}.out"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{out}.args"\ncat > "{out}"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def which_only(script: Path, name: str) -> Which:
    return lambda wanted: str(script) if wanted == name else None


def test_copy_pipes_to_the_native_tool_and_the_terminal(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "xclip", "exit 0")
    written: list[str] = []
    text = "héllo\nwörld ✓"
    result = copy(
        text, write=written.append, env={"DISPLAY": ":0"}, which=which_only(script, "xclip")
    )
    assert (tmp_path / "xclip.out").read_text(encoding="utf-8") == text
    assert (tmp_path / "xclip.out.args").read_text().split() == ["-selection", "clipboard"]
    assert len(written) == 1 and result.osc52 and result.native == "xclip"
    assert result.message == "Copied 13 characters (terminal and xclip)"


def test_copy_too_large_for_osc52_goes_only_to_the_tool(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "wl-copy", "exit 0")
    written: list[str] = []
    text = "y" * 200_000
    result = copy(
        text,
        write=written.append,
        env={"WAYLAND_DISPLAY": "wayland-0"},
        which=which_only(script, "wl-copy"),
    )
    assert written == []
    assert (tmp_path / "wl-copy.out").read_text() == text
    assert result.ok and result.too_large
    assert result.message == (
        "Copied 200,000 characters via wl-copy (too large for the terminal clipboard)"
    )


def test_a_failing_tool_is_reported(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "xsel", "exit 3")
    which = which_only(script, "xsel")
    written: list[str] = []
    result = copy("hi", write=written.append, env={"DISPLAY": ":0"}, which=which)
    assert result.osc52 and result.native is None
    assert result.error == "xsel failed with exit status 3"
    assert result.message == "Copied 2 characters"
    big = copy("z" * 80_000, write=written.append, env={"DISPLAY": ":0"}, which=which)
    assert not big.ok
    assert big.message.endswith("; xsel failed with exit status 3")


def test_a_tool_that_leaves_a_child_behind_does_not_block(tmp_path: Path) -> None:
    # xclip and wl-copy fork a child that serves the selection and keeps the output open.
    script = fake_tool(tmp_path, "xclip", "sleep 3 &")
    started = time.monotonic()
    result = copy("hi", write=None, env={"DISPLAY": ":0"}, which=which_only(script, "xclip"))
    assert time.monotonic() - started < 2
    assert result.native == "xclip" and result.message == "Copied 2 characters via xclip"


def test_a_hanging_tool_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clipboard, "NATIVE_TIMEOUT", 0.3)
    script = fake_tool(tmp_path, "xclip", "exec sleep 5")
    result = copy("hi", write=None, env={"DISPLAY": ":0"}, which=which_only(script, "xclip"))
    assert result.error == "xclip did not finish within 0.3 s"
    assert not result.ok


def test_clip_exe_gets_utf16_with_a_byte_order_mark(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "clip.exe", "exit 0")
    result = copy(
        "naïve ✓",
        write=None,
        env={"WSL_DISTRO_NAME": "Ubuntu"},
        which=which_only(script, "clip.exe"),
        platform="linux",
    )
    assert result.native == "clip.exe"
    data = (tmp_path / "clip.exe.out").read_bytes()
    assert data[:2] == b"\xff\xfe"
    assert data[2:].decode("utf-16-le") == "naïve ✓"


def test_native_off_never_runs_a_tool(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "xclip", "exit 0")
    written: list[str] = []
    result = copy(
        "hi",
        write=written.append,
        env={"DISPLAY": ":0"},
        which=which_only(script, "xclip"),
        native=False,
    )
    assert not (tmp_path / "xclip.out").exists()
    assert result.osc52 and result.native is None
