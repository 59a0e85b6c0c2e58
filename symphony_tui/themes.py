"""Turn validated theme files into Textual themes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.theme import Theme

from symphony_tui.theme_files import ThemeSpec, load_themes

if TYPE_CHECKING:
    from pathlib import Path

    from engine.types.errors import ThemeError

#: Used when the configured theme is missing or invalid.
FALLBACK_THEME = "symphony-dark"


def to_textual(spec: ThemeSpec) -> Theme:
    """Build the Textual theme for one validated theme file."""
    c = spec.data.colors
    return Theme(
        name=spec.name,
        primary=c.primary,
        secondary=c.secondary,
        accent=c.accent,
        foreground=c.foreground,
        background=c.background,
        surface=c.surface,
        panel=c.panel,
        success=c.success,
        warning=c.warning,
        error=c.error,
        boost=c.boost,
        dark=spec.data.theme.dark,
        variables=dict(spec.data.variables),
    )


def textual_themes(workspace: Path, user_config_dir: Path) -> tuple[list[Theme], list[ThemeError]]:
    """Every loadable theme as a Textual theme, and the files that were skipped."""
    specs, errors = load_themes(workspace, user_config_dir)
    return [to_textual(s) for s in specs], errors
