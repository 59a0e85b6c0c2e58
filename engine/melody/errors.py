"""Errors of melody files (defined with the rest of the hierarchy in :mod:`engine.types.errors`).

``source: location: reason``, each part kept as an attribute so the CLI can print them one per
line or as JSON.
"""

from __future__ import annotations

from engine.types.errors import CycleError, MelodyError, MelodyErrors

__all__ = ["CycleError", "MelodyError", "MelodyErrors"]
