"""Key names to the bytes xterm sends for them, for writing keystrokes into a PTY.

A front end receives keys by name (Textual's ``"up"``, ``"ctrl+left"``, ``"f5"``); programs in
the terminal expect xterm's encoding of them, which depends on DECCKM (application cursor keys)
for the cursor keys. Modified special keys use xterm's ``CSI 1 ; <modifier> <final>`` form.
Printable characters are the front end's business (it has the character, which may be any
Unicode text); this module only handles named keys and ``alt+<character>``. It does no I/O.
"""

from __future__ import annotations

__all__ = ["encode_key"]

_ESC = "\x1b"
_CSI = "\x1b["

# Keys whose unmodified form depends on DECCKM: (final byte). Normal mode sends CSI <final>,
# application mode SS3 <final>, modified keys CSI 1 ; <mod> <final>.
_CURSOR_FINALS = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
# F1-F4 are SS3 P-S unmodified, CSI 1 ; <mod> P-S modified.
_SS3_FUNCTION_FINALS = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
# Keys sent as CSI <number> ~ (CSI <number> ; <mod> ~ when modified).
_TILDE_NUMBERS = {
    "insert": 2,
    "delete": 3,
    "pageup": 5,
    "pagedown": 6,
    "f5": 15,
    "f6": 17,
    "f7": 18,
    "f8": 19,
    "f9": 20,
    "f10": 21,
    "f11": 23,
    "f12": 24,
}
# Plain keys with a fixed encoding.
_SIMPLE = {
    "enter": "\r",
    "return": "\r",
    "tab": "\t",
    "backspace": "\x7f",
    "escape": _ESC,
    "space": " ",
}
# Control characters Textual names by the symbol's name.
_CTRL_SYMBOLS = {
    "@": "\x00",
    "space": "\x00",
    "[": _ESC,
    "backslash": "\x1c",
    "\\": "\x1c",
    "right_square_bracket": "\x1d",
    "]": "\x1d",
    "circumflex_accent": "\x1e",
    "^": "\x1e",
    "underscore": "\x1f",
    "_": "\x1f",
    "?": "\x7f",
    "backspace": "\x08",
    "enter": "\r",
}
_MODIFIER_BITS = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4}


def encode_key(key: str, *, app_cursor: bool) -> bytes | None:
    """The bytes xterm sends for a named key, or None when the key has no encoding here.

    Args:
        key: a Textual-style key name: ``"up"``, ``"pagedown"``, ``"f1"``…``"f24"``,
            ``"enter"``, ``"tab"``, ``"shift+tab"``, ``"backspace"``, ``"escape"``,
            ``"ctrl+a"``…``"ctrl+z"``, ``"ctrl+@"``/``"ctrl+space"``, modified special keys
            such as ``"ctrl+shift+left"``, ``"alt+<character>"`` and ``"alt+shift+<letter>"``.
        app_cursor: whether the program turned on application cursor keys (DECCKM).
    """
    *modifier_names, name = key.split("+") if key != "+" else ("+",)
    if not name:  # "ctrl++" and the like
        return None
    modifiers = 0
    for modifier in modifier_names:
        bit = _MODIFIER_BITS.get(modifier)
        if bit is None:
            return None
        modifiers |= bit
    text = _encode(name, modifiers, app_cursor)
    return text.encode() if text is not None else None


def _encode(name: str, modifiers: int, app_cursor: bool) -> str | None:
    # F13-F24 are how Textual reports shifted F1-F12 (xterm sends those as modified F1-F12).
    if name.startswith("f") and name[1:].isdigit() and 13 <= int(name[1:]) <= 24:
        name = f"f{int(name[1:]) - 12}"
        modifiers |= _MODIFIER_BITS["shift"]
    parameter = 1 + modifiers
    if name in _CURSOR_FINALS:
        final = _CURSOR_FINALS[name]
        if modifiers:
            return f"{_CSI}1;{parameter}{final}"
        return f"\x1bO{final}" if app_cursor else f"{_CSI}{final}"
    if name in _SS3_FUNCTION_FINALS:
        final = _SS3_FUNCTION_FINALS[name]
        return f"{_CSI}1;{parameter}{final}" if modifiers else f"\x1bO{final}"
    if name in _TILDE_NUMBERS:
        number = _TILDE_NUMBERS[name]
        return f"{_CSI}{number};{parameter}~" if modifiers else f"{_CSI}{number}~"
    alt = _ESC if modifiers & _MODIFIER_BITS["alt"] else ""
    ctrl = bool(modifiers & _MODIFIER_BITS["ctrl"])
    shift = bool(modifiers & _MODIFIER_BITS["shift"])
    if name == "tab" and shift and not ctrl:
        return f"{alt}{_CSI}Z"
    if ctrl:
        control = _control_character(name)
        return None if control is None or shift else alt + control
    if name in _SIMPLE:
        return None if shift and name != "space" else alt + _SIMPLE[name]
    if len(name) == 1 and alt:
        if not shift:
            return alt + name
        # Shift of a letter is its capital on every layout; of anything else, the layout's.
        return alt + name.upper() if name.isalpha() and name.isascii() else None
    return None


def _control_character(name: str) -> str | None:
    """The C0 control character for ctrl+<name> (``ctrl+a`` is 0x01), if there is one."""
    if len(name) == 1 and "a" <= name.lower() <= "z":
        return chr(ord(name.lower()) - ord("a") + 1)
    return _CTRL_SYMBOLS.get(name)
