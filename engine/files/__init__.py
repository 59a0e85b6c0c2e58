"""Workspace file helpers shared by the engine, extensions and the UI: atomic writes and
``.gitignore`` rules."""

from engine.files.atomic import write_atomic
from engine.files.ignore import IgnoreRules

__all__ = ["IgnoreRules", "write_atomic"]
