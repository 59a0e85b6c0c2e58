"""Start the TUI. The only CLI module allowed to import ``symphony_tui`` (and so Textual)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from engine.config import LoadedConfig


def run_tui(workspace: Path, overrides: Sequence[str], config: LoadedConfig | None = None) -> int:
    """Run the Symphony app on ``workspace`` until the user quits; returns the exit code."""
    from engine.logs import configure_logging
    from symphony_tui.app import run

    if config is not None:
        configure_logging(config.config.core.log_level, to_file=True)
    return run(workspace, overrides, config)
