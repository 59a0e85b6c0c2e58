"""Importing an extension's entry and creating its instance (in the engine or in a host)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.types.errors import ExtensionError

if TYPE_CHECKING:
    from symphony_sdk.base import Extension

__all__ = ["load_extension"]


def load_extension(entry: str, import_root: Path | None, kind: str) -> Extension:
    """Import ``module:attribute`` (from ``import_root`` when given) and instantiate it.

    Raises:
        ExtensionError: the module name is taken by another module, the attribute is missing,
            not an extension class, or not of the manifest's ``kind``. Whatever the import or
            the constructor raise propagates.
    """
    from symphony_sdk.base import Extension

    module_name, attr = entry.split(":")
    if import_root is not None:
        root = str(import_root)
        top = module_name.split(".")[0]
        existing = sys.modules.get(top)
        origin = getattr(existing, "__file__", None) if existing is not None else None
        if existing is not None and not (origin and Path(origin).is_relative_to(root)):
            raise ExtensionError(
                f"module name {top!r} is already taken by {origin or 'a built-in module'};"
                " rename the extension's module"
            )
        if root not in sys.path:
            sys.path.insert(0, root)
    module = importlib.import_module(module_name)
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise ExtensionError(f"{module_name} has no attribute {attr!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Extension)):
        raise ExtensionError(f"{entry} is not an Operator, Instrument or Motif")
    if cls.kind != kind:
        raise ExtensionError(
            f"{entry} is a {cls.kind or 'plain Extension'} but the manifest says {kind}"
        )
    instance: Extension = cls()
    return instance
