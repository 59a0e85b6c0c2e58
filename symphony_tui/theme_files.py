"""Theme files: find, parse and validate them, without importing Textual.

A theme is a TOML file with a ``[theme]`` table (name, dark) and a ``[colors]`` table of
``#rrggbb`` colours, plus optional extra ``[variables]`` for Textual CSS variables. Files come
from the built-in ``themes/`` folder, then the user's ``<config dir>/themes`` and the
project's ``.symphony/themes`` (later ones replace earlier ones of the same name). A bad file
is reported (file, key, reason) and skipped; it never stops the UI. The doctor uses this module
too, so it must stay free of Textual imports.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from engine.types.errors import ThemeError
from engine.types.messages import ComponentHealth, HealthStatus

Color = Annotated[
    str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
]
ThemeName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]

_PACKAGE = Path(__file__).resolve().parent


class ThemeMeta(BaseModel):
    """The ``[theme]`` table."""

    model_config = ConfigDict(extra="forbid")
    name: ThemeName
    dark: bool = True
    description: str = ""


class ThemeColors(BaseModel):
    """The ``[colors]`` table: Textual's base colours."""

    model_config = ConfigDict(extra="forbid")
    primary: Color
    secondary: Color | None = None
    accent: Color | None = None
    foreground: Color | None = None
    background: Color | None = None
    surface: Color | None = None
    panel: Color | None = None
    success: Color | None = None
    warning: Color | None = None
    error: Color | None = None
    boost: Color | None = None


class ThemeFile(BaseModel):
    """One theme file."""

    model_config = ConfigDict(extra="forbid")
    theme: ThemeMeta
    colors: ThemeColors
    variables: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")], str] = Field(
        default_factory=dict
    )


@dataclass(frozen=True)
class ThemeSpec:
    """A validated theme and the file it came from."""

    path: Path
    origin: Literal["built-in", "user", "project"]
    data: ThemeFile

    @property
    def name(self) -> str:
        """The theme's name."""
        return self.data.theme.name


def builtin_theme_dir() -> Path:
    """The built-in themes: ``themes/`` in a source checkout, packaged data in a wheel."""
    source = _PACKAGE.parent / "themes"
    return source if source.is_dir() else _PACKAGE / "builtin_themes"


def theme_dirs(
    workspace: Path, user_config_dir: Path
) -> list[tuple[Literal["built-in", "user", "project"], Path]]:
    """Folders searched for themes, lowest priority first."""
    return [
        ("built-in", builtin_theme_dir()),
        ("user", user_config_dir / "themes"),
        ("project", workspace / ".symphony" / "themes"),
    ]


def parse_theme(
    path: Path, origin: Literal["built-in", "user", "project"] = "built-in"
) -> ThemeSpec:
    """Parse and validate one theme file.

    Raises:
        ThemeError: naming the file, the key and the reason.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ThemeError(f"{path}: not valid TOML: {e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ThemeError(f"{path}: cannot read: {e}") from e
    try:
        data = ThemeFile.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            if err["type"] == "string_pattern_mismatch" and err["loc"][:1] == ("colors",):
                reason = f"{err['input']!r} is not a #rgb / #rrggbb / #rrggbbaa colour"
            problems.append(f"{key}: {reason}")
        raise ThemeError(f"{path}: " + "; ".join(problems)) from e
    return ThemeSpec(path=path, origin=origin, data=data)


def load_themes(workspace: Path, user_config_dir: Path) -> tuple[list[ThemeSpec], list[ThemeError]]:
    """Every valid theme (later folders override earlier ones by name) and the errors met."""
    found: dict[str, ThemeSpec] = {}
    errors: list[ThemeError] = []
    for origin, folder in theme_dirs(workspace, user_config_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                spec = parse_theme(path, origin)
            except ThemeError as e:
                errors.append(e)
                continue
            found[spec.name] = spec
    return list(found.values()), errors


def themes_health(
    workspace: Path, user_config_dir: Path | None = None, *, wanted: str | None = None
) -> ComponentHealth:
    """Health of the theme files: degraded when a file is invalid or ``wanted`` is missing,
    unhealthy when none load."""
    if user_config_dir is None:
        from engine.config.paths import user_config_dir as default_dir

        user_config_dir = default_dir()
    specs, errors = load_themes(workspace, user_config_dir)
    reasons = [f"skipped {e}" for e in errors]
    names = sorted(s.name for s in specs)
    if wanted is not None and specs and wanted not in names:
        reasons.append(f"ide.theme is {wanted!r}, which is not installed; the UI falls back")
    if not specs:
        status = HealthStatus.UNHEALTHY
        reasons.append("no theme could be loaded")
    else:
        status = HealthStatus.DEGRADED if reasons else HealthStatus.HEALTHY
    return ComponentHealth(
        name="themes",
        status=status,
        reasons=tuple(reasons),
        detail={"names": names},
    )
