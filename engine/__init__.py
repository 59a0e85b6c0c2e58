"""Symphony's headless engine.

Everything here runs without a terminal UI: the TUI (``symphony_tui``), the CLI and later the
daemon drive it only through typed commands and events. Nothing in this package may import
Textual or ``symphony_tui``; a test and a ruff rule enforce it.
"""

from __future__ import annotations

__version__ = "0.1.0"
