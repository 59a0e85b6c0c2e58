"""Load the configuration: read every layer, merge them, remember origins, validate.

Layers, lowest to highest: built-in defaults → user file → project file → environment → ``--set``.
Tables merge deeply; any other value replaces what lower layers set. Every leaf remembers the
layer and source that set it, so a validation error names the file, variable or ``--set`` that
caused it and ``symphony config show --origin`` can explain each value. All problems found are
reported together. This module must not watch files, write files or keep state between calls.
"""

from __future__ import annotations

import copy
import difflib
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.config.models import SymphonyConfig
from engine.config.paths import LayerFile, config_dirs, find_config_file
from engine.config.sources import Layer, LayerName, env_layers, override_layers, read_file
from engine.types.errors import ConfigError, ConfigErrors

if typing.TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DEFAULT_ORIGIN",
    "LAYER_ORDER",
    "LoadedConfig",
    "Origin",
    "build",
    "changed_keys",
    "combine",
    "flatten",
    "load_config",
    "raise_all",
    "read_layers",
]

LAYER_ORDER: tuple[LayerName, ...] = ("default", "user", "project", "env", "cli")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a configuration value came from.

    Attributes:
        layer: ``default``, ``user``, ``project``, ``env`` or ``cli``.
        source: the file path, the environment variable name, ``--set key=value`` or
            ``built-in``.
    """

    layer: LayerName
    source: str

    def __str__(self) -> str:
        return f"{self.layer} ({self.source})"


DEFAULT_ORIGIN = Origin("default", "built-in")


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with the origin of every value.

    Attributes:
        config: the validated configuration.
        origins: dotted key → origin, for every leaf of :meth:`flat`.
        files: the user and project files (read or not), lowest layer first.
    """

    config: SymphonyConfig
    origins: dict[str, Origin] = field(default_factory=dict)
    files: list[LayerFile] = field(default_factory=list)

    def flat(self) -> dict[str, Any]:
        """Dotted key → value for every leaf; empty tables and lists are leaves."""
        return flatten(self.config.model_dump())


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys; empty mappings and lists are leaves."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def changed_keys(old: LoadedConfig, new: LoadedConfig) -> list[str]:
    """Sorted dotted keys whose value differs (including keys only one side has)."""
    a, b = old.flat(), new.flat()
    return sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or a[k] != b[k])


def combine(errors: Sequence[ConfigError]) -> ConfigError:
    """One error for one problem, :class:`ConfigErrors` (flattened) for several.

    Args:
        errors: at least one error.
    """
    flat: list[ConfigError] = []
    for e in errors:
        flat.extend(e.errors if isinstance(e, ConfigErrors) else [e])
    return ConfigErrors(flat) if len(flat) > 1 else flat[0]


def raise_all(errors: Sequence[ConfigError]) -> None:
    """Raise nothing when ``errors`` is empty, else :func:`combine` of them."""
    if errors:
        raise combine(errors)


def read_layers(
    workspace: Path, *, overrides: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> tuple[list[Layer], list[LayerFile]]:
    """Read every layer above the defaults, lowest first.

    Returns:
        The layers and the user and project files (``files`` has both even when missing).

    Raises:
        ConfigError: one problem (or ConfigErrors: several) in files, variables or ``--set``.
    """
    errors: list[ConfigError] = []
    layers: list[Layer] = []
    files: list[LayerFile] = []
    for directory, layer in config_dirs(workspace, env):
        try:
            found = find_config_file(directory, layer)
        except ConfigError as e:
            errors.append(e)
            continue
        files.append(found)
        if found.exists:
            try:
                layers.append(Layer(layer, str(found.path), read_file(found.path)))
            except ConfigError as e:
                errors.append(e)
    for collect in (env_layers(os.environ if env is None else env), override_layers(overrides)):
        more, problems = collect
        layers.extend(more)
        errors.extend(problems)
    raise_all(errors)
    return layers, files


def load_config(
    workspace: Path, *, overrides: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load, merge and validate every configuration layer.

    Args:
        workspace: the project folder (its ``.symphony/config.*`` is the project layer).
        overrides: ``section.key=value`` strings from ``--set``, applied last.
        env: environment to read ``SYMPHONY_*`` variables from; ``None`` means ``os.environ``.

    Returns:
        The validated configuration with the origin of every value.

    Raises:
        ConfigError: the configuration is invalid; ConfigErrors when there are several problems.
    """
    layers, files = read_layers(workspace, overrides=overrides, env=env)
    return build(layers, files)


def build(layers: Sequence[Layer], files: Sequence[LayerFile] = ()) -> LoadedConfig:
    """Merge ``layers`` (lowest first) over the defaults and validate the result.

    Raises:
        ConfigError: the merged data is invalid; ConfigErrors when there are several problems.
    """
    data: dict[str, Any] = {}
    explicit: dict[str, Origin] = {}
    for layer in layers:
        _merge(data, copy.deepcopy(layer.data), "", Origin(layer.name, layer.source), explicit)
    texts = {layer.source: layer.text for layer in layers if layer.text is not None}
    while True:
        try:
            config = SymphonyConfig.model_validate(data)
            break
        except ValidationError as e:
            errors = e.errors(include_url=False)
            if _retry_as_text(data, errors, explicit, texts):
                continue
            problems = [_to_config_error(err, explicit) for err in errors]
            raise combine(problems) from e
    origins = {key: _origin_of(key, explicit) for key in flatten(config.model_dump())}
    return LoadedConfig(config=config, origins=origins, files=list(files))


def _retry_as_text(
    data: dict[str, Any],
    errors: Sequence[Mapping[str, Any]],
    explicit: Mapping[str, Origin],
    texts: Mapping[str, str],
) -> bool:
    """Give string settings the typed text of a variable or ``--set`` read as another type.

    ``SYMPHONY_IDE__THEME=42`` reads as the integer 42 but means the theme "42"; a file's
    ``theme = 42`` stays an error. Returns whether anything was replaced (then validate again).
    """
    replaced = False
    for err in errors:
        parts = [str(p) for p in err["loc"]]
        origin = explicit.get(".".join(parts))
        text = texts.get(origin.source) if origin is not None else None
        if err["type"] != "string_type" or text is None or isinstance(err["input"], str):
            continue
        container = data
        for part in parts[:-1]:
            container = container[part]
        container[parts[-1]] = text
        replaced = True
    return replaced


def _merge(
    target: dict[str, Any],
    incoming: Mapping[str, Any],
    prefix: str,
    origin: Origin,
    origins: dict[str, Origin],
) -> None:
    for k, v in incoming.items():
        key = f"{prefix}.{k}" if prefix else k
        existing = target.get(k)
        if isinstance(v, dict) and v:
            if not isinstance(existing, dict):
                _forget(origins, key)
                existing = target[k] = {}
            _merge(existing, v, key, origin, origins)
        elif isinstance(v, dict) and isinstance(existing, dict):
            continue  # an empty table over a table changes nothing
        else:
            _forget(origins, key)
            target[k] = v
            origins[key] = origin


def _forget(origins: dict[str, Origin], key: str) -> None:
    for k in [k for k in origins if k == key or k.startswith(key + ".")]:
        del origins[k]


def _origin_of(key: str, explicit: Mapping[str, Origin]) -> Origin:
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = explicit.get(".".join(parts[:n]))
        if found is not None:
            return found
    return DEFAULT_ORIGIN


def _source_of(parts: Sequence[str], explicit: Mapping[str, Origin]) -> str | None:
    """Source of the value at ``parts``: its own, else the latest one set at or under the
    nearest ancestor that has any (a missing key blames the file that created its table)."""
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        # `explicit` is in the order values were set, so the last match is the highest layer.
        matches = [o for k, o in explicit.items() if k == prefix or k.startswith(prefix + ".")]
        if matches:
            o = matches[-1]
            return f"env {o.source}" if o.layer == "env" else o.source
    return None


def _to_config_error(err: Mapping[str, Any], explicit: Mapping[str, Origin]) -> ConfigError:
    parts = [str(p) for p in err["loc"]]
    kind = err["type"]
    if kind == "extra_forbidden":
        reason = _unknown_key_reason(parts)
    elif kind == "missing":
        reason = "required key is missing"
    else:
        reason = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if not isinstance(value, Mapping):  # a whole table as "input" only adds noise
            reason = f"{reason} (got {value!r})"
    return ConfigError(reason, source=_source_of(parts, explicit), key=".".join(parts) or None)


def _unknown_key_reason(parts: Sequence[str]) -> str:
    known = _known_keys(parts[:-1])
    if not known:
        return "unknown key"
    close = difflib.get_close_matches(parts[-1], known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (known: {', '.join(known)})"


def _known_keys(parts: Sequence[str]) -> list[str]:
    ann: Any = SymphonyConfig
    for part in parts:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            info = ann.model_fields.get(part)
            if info is None:
                return []
            ann = info.annotation
        elif typing.get_origin(ann) is dict:
            ann = typing.get_args(ann)[1]
        else:
            return []
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return list(ann.model_fields)
    return []
