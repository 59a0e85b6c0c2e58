"""Key names become the bytes xterm sends, so programs in the terminal understand them."""

from __future__ import annotations

import pytest

from engine.terminal.keys import encode_key


@pytest.mark.parametrize(
    ("key", "normal", "application"),
    [
        ("up", b"\x1b[A", b"\x1bOA"),
        ("down", b"\x1b[B", b"\x1bOB"),
        ("right", b"\x1b[C", b"\x1bOC"),
        ("left", b"\x1b[D", b"\x1bOD"),
        ("home", b"\x1b[H", b"\x1bOH"),
        ("end", b"\x1b[F", b"\x1bOF"),
    ],
)
def test_cursor_keys_follow_decckm(key: str, normal: bytes, application: bytes) -> None:
    assert encode_key(key, app_cursor=False) == normal
    assert encode_key(key, app_cursor=True) == application


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("insert", b"\x1b[2~"),
        ("delete", b"\x1b[3~"),
        ("pageup", b"\x1b[5~"),
        ("pagedown", b"\x1b[6~"),
        ("f1", b"\x1bOP"),
        ("f2", b"\x1bOQ"),
        ("f3", b"\x1bOR"),
        ("f4", b"\x1bOS"),
        ("f5", b"\x1b[15~"),
        ("f6", b"\x1b[17~"),
        ("f7", b"\x1b[18~"),
        ("f8", b"\x1b[19~"),
        ("f9", b"\x1b[20~"),
        ("f10", b"\x1b[21~"),
        ("f11", b"\x1b[23~"),
        ("f12", b"\x1b[24~"),
        ("enter", b"\r"),
        ("tab", b"\t"),
        ("shift+tab", b"\x1b[Z"),
        ("backspace", b"\x7f"),
        ("escape", b"\x1b"),
        ("space", b" "),
    ],
)
def test_special_keys(key: str, expected: bytes) -> None:
    assert encode_key(key, app_cursor=False) == expected
    assert encode_key(key, app_cursor=True) == expected


def test_ctrl_letters_are_c0_controls() -> None:
    for offset, letter in enumerate("abcdefghijklmnopqrstuvwxyz", start=1):
        assert encode_key(f"ctrl+{letter}", app_cursor=False) == bytes([offset])


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ctrl+@", b"\x00"),
        ("ctrl+space", b"\x00"),
        ("ctrl+backslash", b"\x1c"),
        ("ctrl+right_square_bracket", b"\x1d"),
        ("ctrl+circumflex_accent", b"\x1e"),
        ("ctrl+underscore", b"\x1f"),
        ("ctrl+backspace", b"\x08"),
        ("alt+x", b"\x1bx"),
        ("alt+shift+x", b"\x1bX"),
        ("alt+ctrl+c", b"\x1b\x03"),
        ("alt+backspace", b"\x1b\x7f"),
        ("alt+enter", b"\x1b\r"),
    ],
)
def test_control_symbols_and_alt(key: str, expected: bytes) -> None:
    assert encode_key(key, app_cursor=False) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("shift+up", b"\x1b[1;2A"),
        ("alt+left", b"\x1b[1;3D"),
        ("ctrl+left", b"\x1b[1;5D"),
        ("ctrl+right", b"\x1b[1;5C"),
        ("ctrl+shift+right", b"\x1b[1;6C"),
        ("ctrl+alt+shift+down", b"\x1b[1;8B"),
        ("shift+home", b"\x1b[1;2H"),
        ("ctrl+end", b"\x1b[1;5F"),
        ("ctrl+delete", b"\x1b[3;5~"),
        ("shift+pageup", b"\x1b[5;2~"),
        ("ctrl+f1", b"\x1b[1;5P"),
        ("shift+f5", b"\x1b[15;2~"),
        ("f13", b"\x1b[1;2P"),  # Textual's name for shift+F1
        ("f24", b"\x1b[24;2~"),
    ],
)
def test_modified_keys_use_xterm_parameters(key: str, expected: bytes) -> None:
    # Modified cursor keys are the same in both DECCKM modes.
    assert encode_key(key, app_cursor=False) == expected
    assert encode_key(key, app_cursor=True) == expected


@pytest.mark.parametrize(
    "key", ["a", "A", "é", "+", "ctrl++", "hyper+a", "f25", "nonsense", "alt+shift+1"]
)
def test_printable_and_unknown_keys_are_left_to_the_caller(key: str) -> None:
    assert encode_key(key, app_cursor=False) is None
