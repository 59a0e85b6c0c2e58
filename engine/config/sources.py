"""Turn each configuration source into plain nested data: files, environment variables, ``--set``.

Each source becomes one or more :class:`Layer` objects (the data plus where it came from); the
loader merges and validates them. Files may be TOML, JSON or YAML; environment variables are
``SYMPHONY_<SECTION>__<KEY>`` (``__`` separates nesting levels, names are lower-cased); ``--set``
takes ``section.key=value``. Values of variables and ``--set`` are read as TOML values when they
parse as one, else kept as strings. Every problem is a :class:`ConfigError` naming its source.
This module must not validate against the schema or merge layers: that is the loader's job.
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.files.structured import FORMATS, SyntaxProblem, parse_structured
from engine.types.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = [
    "ENV_PREFIX",
    "Layer",
    "LayerName",
    "env_layers",
    "override_layers",
    "parse_text",
    "parse_value",
    "read_file",
    "split_key",
]

LayerName = Literal["default", "user", "project", "env", "cli"]
ENV_PREFIX = "SYMPHONY_"
ENV_SEPARATOR = "__"


@dataclass(frozen=True, slots=True)
class Layer:
    """Configuration data from one source.

    Attributes:
        name: the layer it belongs to (``user``, ``project``, ``env`` or ``cli``).
        source: the file path, the environment variable name or ``--set key=value``.
        data: nested mapping of keys to values.
        text: for a variable or ``--set`` holding one value, that value as typed; used when its
            TOML reading (``42``, ``true``) does not fit a string setting.
    """

    name: LayerName
    source: str
    data: dict[str, Any]
    text: str | None = None


def parse_value(raw: str) -> Any:
    """Read a variable or ``--set`` value: a TOML value if it is one, else the string itself.

    ``4`` gives an int, ``true`` a bool, ``["a", "b"]`` a list, ``"x"`` or ``x`` the string ``x``.
    Plain text loses surrounding blanks (quote it to keep them). Dates and times stay text: no
    setting takes one, and ``2024-01-01`` as a name is plausible.
    """
    text = raw.strip()
    try:
        parsed = tomllib.loads(f"value = {raw}")
    except tomllib.TOMLDecodeError:
        return text
    if list(parsed) != ["value"]:  # the text smuggled in more keys; it was not one value
        return text
    value = parsed["value"]
    if isinstance(value, datetime.date | datetime.time):
        return text
    return value


def split_key(key: str, *, source: str) -> list[str]:
    """Split a dotted key into its parts.

    Raises:
        ConfigError: the key is empty or has an empty part (``ide..theme``).
    """
    parts = [part.strip() for part in key.split(".")]
    if not key.strip() or not all(parts):
        raise ConfigError(f"malformed key {key!r}: expected section.key", source=source)
    return parts


def nest(parts: Sequence[str], value: Any) -> dict[str, Any]:
    """``["a", "b"], 1`` → ``{"a": {"b": 1}}``."""
    data: Any = value
    for part in reversed(parts):
        data = {part: data}
    result: dict[str, Any] = data
    return result


def parse_text(text: str, path: Path) -> dict[str, Any]:
    """Parse a configuration file's text according to its suffix.

    Args:
        text: the file's contents.
        path: the file, for its suffix and for error messages.

    Returns:
        The top-level mapping (empty for an empty file).

    Raises:
        ConfigError: the text does not parse or its top level is not a table.
    """
    source = str(path)
    if not text.strip():
        return {}
    suffix = path.suffix.lower()
    if suffix.lstrip(".") not in FORMATS:
        raise ConfigError(f"unsupported configuration format {suffix!r}", source=source)
    try:
        data = parse_structured(text, suffix.lstrip("."))
    except SyntaxProblem as e:
        raise ConfigError(str(e), source=source) from e
    if data is None:  # a YAML file holding only comments
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"top level must be a table of sections, got {kind}", source=source)
    _check_keys(data, [], source)
    return data


def _check_keys(data: dict[Any, Any], path: list[str], source: str) -> None:
    # YAML allows `1: x` or `true: x`; such keys can never name a setting.
    for k, v in data.items():
        if not isinstance(k, str):
            key = ".".join([*path, str(k)])
            raise ConfigError(f"keys must be strings, got {k!r}", source=source, key=key)
        if isinstance(v, dict):
            _check_keys(v, [*path, k], source)


def read_file(path: Path) -> dict[str, Any]:
    """Read and parse one configuration file.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8, or does not parse.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text: {e.reason}", source=str(path)) from e
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or e}", source=str(path)) from e
    return parse_text(text, path)


def _typed_layer(name: LayerName, source: str, parts: Sequence[str], raw: str) -> Layer:
    value = parse_value(raw)
    # Only a single value may fall back to its text; a table or list has no one leaf to give it to.
    text = None if isinstance(value, dict | list) else raw.strip()
    return Layer(name, source, nest(parts, value), text)


def env_layers(env: Mapping[str, str]) -> tuple[list[Layer], list[ConfigError]]:
    """One layer per ``SYMPHONY_<SECTION>__<KEY>`` variable, in name order.

    Variables starting with ``SYMPHONY_`` but without ``__`` are not configuration (they are
    reserved for other uses) and are ignored. Name order makes the result deterministic and lets
    ``SYMPHONY_IDE__EDITOR__TAB_SIZE`` win over a whole ``SYMPHONY_IDE__EDITOR`` table.

    Returns:
        The layers, and an error for each malformed variable name.
    """
    layers: list[Layer] = []
    errors: list[ConfigError] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR)
        if not all(parts):
            errors.append(
                ConfigError(
                    "malformed variable name: expected SYMPHONY_<SECTION>__<KEY>",
                    source=f"env {name}",
                )
            )
            continue
        layers.append(_typed_layer("env", name, parts, env[name]))
    return layers, errors


def override_layers(overrides: Sequence[str]) -> tuple[list[Layer], list[ConfigError]]:
    """One layer per ``--set section.key=value``, in the order given (the last one wins).

    Returns:
        The layers, and an error for each malformed override.
    """
    layers: list[Layer] = []
    errors: list[ConfigError] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            errors.append(ConfigError(f"expected section.key=value, got {item!r}", source="--set"))
            continue
        try:
            parts = split_key(key, source="--set")
        except ConfigError as e:
            errors.append(e)
            continue
        layers.append(_typed_layer("cli", f"--set {item}", parts, raw))
    return layers, errors
