"""Find melody files in a workspace and parse them into :class:`~engine.melody.model.Melody`.

Melodies live in ``.symphony/melodies/NAME.toml`` (or ``.yaml``, ``.yml``, ``.json``); a command
takes either such a NAME or a path to a file. Parsing turns syntax errors into a reason with the
line and column, and schema errors into one :class:`MelodyError` per problem whose location names
steps by index and id (``steps[1] (test).retry.attempts``). This module must not check step
types or references (that is :mod:`engine.melody.validate`) and must not write anything.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.files.structured import FORMATS, SyntaxProblem, parse_structured
from engine.melody.errors import MelodyError, MelodyErrors
from engine.melody.model import Melody
from engine.types.errors import UsageError

if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "MELODY_DIR",
    "SUFFIXES",
    "find_melody",
    "list_melodies",
    "load_melody",
    "melody_from_data",
    "parse_melody_text",
]

MELODY_DIR = ".symphony/melodies"
SUFFIXES = (".toml", ".yaml", ".yml", ".json")


def list_melodies(workspace: Path) -> list[Path]:
    """The melody files of ``workspace``, sorted by name (files with other suffixes ignored)."""
    folder = workspace / MELODY_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def _looks_like_path(text: str) -> bool:
    return "/" in text or Path(text).suffix.lower() in SUFFIXES or text.startswith(("~", "."))


def find_melody(workspace: Path, name_or_path: str) -> Path:
    """The file a command line names: a path to a file, or the NAME of a workspace melody.

    A path is taken as given (relative to the current folder, else to the workspace, and a bare
    file name such as ``check.toml`` also in the melodies folder); a NAME is looked up as
    ``.symphony/melodies/NAME`` with one of :data:`SUFFIXES`.

    Raises:
        UsageError: no such file or melody (the message lists the available melodies), or two
            files define the same name.
    """
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_absolute() and not path.exists():
            candidates = [workspace / path]
            if len(path.parts) == 1:
                candidates.append(workspace / MELODY_DIR / path)
            path = next((c for c in candidates if c.exists()), path)
        if not path.exists():
            raise UsageError(f"{name_or_path}: no such file")
        if not path.is_file():
            raise UsageError(f"{name_or_path}: not a file")
        return path
    available = list_melodies(workspace)
    matches = [p for p in available if p.stem == name_or_path]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise UsageError(
            f"melody {name_or_path!r} is defined by {len(matches)} files in {MELODY_DIR}"
            f" ({names}); keep one"
        )
    if not matches:
        stems = sorted({p.stem for p in available})
        listing = f"available: {', '.join(stems)}" if stems else f"{MELODY_DIR} has none"
        raise UsageError(f"no melody named {name_or_path!r} ({listing})")
    return matches[0]


def load_melody(path: Path, *, source: str | None = None) -> Melody:
    """Read and parse a melody file (its format from its suffix).

    Args:
        path: the file.
        source: how errors name the file (default: ``path`` as given).

    Raises:
        MelodyError: the file cannot be read or parsed, or does not fit the schema
            (:class:`MelodyErrors` when there are several problems).
    """
    source = str(path) if source is None else source
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MelodyError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=source) from e
    except OSError as e:
        raise MelodyError(f"cannot read: {e.strerror or e}", source=source) from e
    return parse_melody_text(text, fmt=path.suffix, source=source)


def parse_melody_text(text: str, *, fmt: str, source: str) -> Melody:
    """Parse a melody from text.

    Args:
        text: the file's contents.
        fmt: ``toml``, ``yaml``, ``yml`` or ``json`` (a leading dot is fine).
        source: names the file in errors.

    Raises:
        MelodyError: invalid syntax (the reason gives the line and column) or invalid content.
    """
    kind = fmt.lower().lstrip(".")
    if kind not in FORMATS:
        suffixes = ", ".join(SUFFIXES)
        raise MelodyError(f"unsupported melody format {fmt!r} (use {suffixes})", source=source)
    try:
        data = parse_structured(text, kind)
    except SyntaxProblem as e:
        raise MelodyError(str(e), source=source) from e
    return melody_from_data(data, source=source)


def melody_from_data(data: Any, *, source: str) -> Melody:
    """Validate parsed data against the melody schema.

    Raises:
        MelodyError: one problem; :class:`MelodyErrors` when there are several.
    """
    if data is None or data == {}:
        raise MelodyError("the melody is empty: it needs a [melody] table and steps", source=source)
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise MelodyError(f"top level must be a table, got {kind}", source=source)
    try:
        return Melody.model_validate(data)
    except ValidationError as e:
        found = sorted(e.errors(include_url=False), key=lambda err: _file_order(err["loc"], data))
        problems = [_to_error(err, data, source) for err in found]
        raise (problems[0] if len(problems) == 1 else MelodyErrors(problems)) from None


def location(loc: Sequence[Any], data: Mapping[str, Any]) -> str:
    """A pydantic error location as users read it: ``steps[1] (test).retry.attempts``."""
    text = ""
    steps = data.get("steps")
    for n, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
            if n == 1 and loc[0] == "steps" and isinstance(steps, list) and part < len(steps):
                step = steps[part]
                step_id = step.get("id") if isinstance(step, dict) else None
                if isinstance(step_id, str):
                    text += f" ({step_id})"
        else:
            text += f".{part}" if text else str(part)
    return text


def _file_order(loc: Sequence[Any], data: Any) -> tuple[int, ...]:
    """Where ``loc`` sits in the file: keys keep their file order when parsed, so a key's index
    among its siblings orders errors the way the file reads (missing keys go last)."""
    order: list[int] = []
    for part in loc:
        if isinstance(data, dict):
            keys = list(data)
            order.append(keys.index(part) if part in data else len(keys))
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            order.append(part)
            data = data[part]
        else:
            order.append(0)
            data = None
    return tuple(order)


_TYPE_REASONS = {
    "model_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
}
_PATTERN_REASONS = {
    "id": "a step id starts with a letter or '_' and holds only letters, digits, '_' and '-'",
    "name": "a melody name starts with a letter or '_' and holds only letters, digits, '_' and '-'",
}


def _to_error(err: Mapping[str, Any], data: Mapping[str, Any], source: str) -> MelodyError:
    loc = list(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        reason = _unknown_key_reason(loc)
    elif kind == "missing":
        reason = "required key is missing"
    elif kind == "too_short" and loc == ["steps"]:
        reason = "a melody needs at least one step"
    else:
        if kind in _TYPE_REASONS:
            reason = _TYPE_REASONS[kind]
        elif kind == "string_pattern_mismatch":
            reason = _PATTERN_REASONS.get(str(loc[-1]), "malformed value")
        else:
            reason = str(err["msg"]).removeprefix("Value error, ")
            reason = reason.replace("Input should be", "must be")
        if not isinstance(value, dict | list):  # a whole table or list only adds noise
            reason = f"{reason} (got {value!r})"
    return MelodyError(reason, source=source, location=location(loc, data) or None)


def _unknown_key_reason(loc: Sequence[Any]) -> str:
    known = _known_keys(loc[:-1])
    if not known:
        return "unknown key"
    import difflib

    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (known: {', '.join(known)})"


def _known_keys(parts: Sequence[Any]) -> list[str]:
    """The keys the model allows at ``parts`` (file spellings: ``with``, not ``with_``)."""
    ann: Any = Melody
    for part in parts:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            info = next(
                (f for name, f in ann.model_fields.items() if (f.alias or name) == part), None
            )
            if info is None:
                return []
            ann = info.annotation
        elif typing.get_origin(ann) in (list, dict):
            ann = typing.get_args(ann)[-1]
        else:
            return []
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [f.alias or name for name, f in ann.model_fields.items()]
    return []
