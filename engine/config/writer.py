"""Persist one configuration value in a layer's file, atomically and keeping comments.

TOML files are edited with tomlkit so comments, ordering and formatting survive; JSON and YAML
files are rewritten from their data (they have no comments worth keeping in JSON, and PyYAML
cannot keep YAML's). Every write goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target, so readers and the watcher never see half a file. This
module must not validate values: callers check the resulting configuration before writing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.config.sources import nest
from engine.files.atomic import write_atomic
from engine.types.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["atomic_write", "with_value", "write_value"]

_TOML_HEADER = "Symphony configuration. Reference: docs/configuration.md"


def with_value(data: Mapping[str, Any], parts: Sequence[str], value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``parts`` set to ``value`` (``None`` removes the key).

    Missing tables are created; a non-table in the way is replaced by a table.
    """
    result = copy.deepcopy(dict(data))
    container: dict[str, Any] = result
    for i, part in enumerate(parts[:-1]):
        child = container.get(part)
        if not isinstance(child, dict):
            if value is not None:
                container[part] = nest(parts[i + 1 :], copy.deepcopy(value))
            return result
        container = child
    if value is None:
        container.pop(parts[-1], None)
    else:
        container[parts[-1]] = copy.deepcopy(value)
    return result


def write_value(path: Path, parts: Sequence[str], value: Any, data: Mapping[str, Any]) -> None:
    """Write ``parts = value`` into the configuration file at ``path``.

    Args:
        path: the layer's file; created (with its directory) if missing.
        parts: the key, split at dots.
        value: the new value; ``None`` removes the key.
        data: the file's whole data after the change (used for JSON and YAML).

    Raises:
        ConfigError: the file cannot be read or written.
    """
    suffix = path.suffix.lower()
    if suffix == ".toml":
        text = _toml_text(path, parts, value)
    elif suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
    atomic_write(path, text)


def _toml_text(path: Path, parts: Sequence[str], value: Any) -> str:
    import tomlkit

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or e}", source=str(path)) from e
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(f"invalid TOML: {e}", source=str(path)) from e
    if doc is None:
        doc = tomlkit.document()
        doc.add(tomlkit.comment(_TOML_HEADER))
    container: MutableMapping[str, Any] = doc
    for i, part in enumerate(parts[:-1]):
        child = container.get(part)
        if not isinstance(child, MutableMapping):
            if value is not None:
                container[part] = nest(parts[i + 1 :], value)
            return tomlkit.dumps(doc)
        container = child
    if value is None:
        container.pop(parts[-1], None)
    else:
        container[parts[-1]] = value
    return tomlkit.dumps(doc)


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file, fsync, rename); keep its mode.

    Raises:
        ConfigError: the directory cannot be created or the file cannot be written.
    """
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write: {e.strerror or e}", source=str(path)) from e
