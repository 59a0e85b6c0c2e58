"""Where configuration files live and which one of a directory is in force.

The user layer lives in the platform's config directory (``platformdirs``; honours
``XDG_CONFIG_HOME``), the project layer in ``<workspace>/.symphony``. Each directory may hold one
``config.toml``, ``config.json``, ``config.yaml`` or ``config.yml``; more than one is an error
because silently preferring one would hide edits to the other. This module only looks at paths:
it must not read or parse file contents, and it never creates anything.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs

from engine.types.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "APP_NAME",
    "CONFIG_NAMES",
    "PROJECT_DIR_NAME",
    "FileLayer",
    "LayerFile",
    "config_dirs",
    "find_config_file",
    "project_config_dir",
    "resolve_data_dir",
    "resolve_state_dir",
    "user_config_dir",
]

APP_NAME = "symphony"
PROJECT_DIR_NAME = ".symphony"
# The first name is the one created when a layer has no file yet.
CONFIG_NAMES: tuple[str, ...] = ("config.toml", "config.json", "config.yaml", "config.yml")

FileLayer = Literal["user", "project"]


@dataclass(frozen=True, slots=True)
class LayerFile:
    """The configuration file of one file layer.

    Attributes:
        layer: ``"user"`` or ``"project"``.
        path: the file in force, or the ``config.toml`` that would be read if it existed.
        exists: whether ``path`` exists.
    """

    layer: FileLayer
    path: Path
    exists: bool


def user_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Directory of the user configuration file.

    Args:
        env: environment to consult for ``XDG_CONFIG_HOME`` (on Linux and other Unixes, as
            platformdirs does); ``None`` leaves the lookup entirely to platformdirs.

    Returns:
        The directory; it may not exist.
    """
    if env is not None and sys.platform not in ("win32", "darwin"):
        xdg = env.get("XDG_CONFIG_HOME", "").strip()
        if xdg:
            return Path(xdg) / APP_NAME
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def project_config_dir(workspace: Path) -> Path:
    """Directory of the project configuration file of ``workspace``."""
    return workspace / PROJECT_DIR_NAME


def find_config_file(directory: Path, layer: FileLayer) -> LayerFile:
    """Find the configuration file of one layer in ``directory``.

    Args:
        directory: the layer's configuration directory.
        layer: the layer's name, recorded in the result.

    Returns:
        The file in force, or the (missing) ``config.toml`` when there is none.

    Raises:
        ConfigError: more than one configuration file exists in ``directory``.
    """
    found = [directory / name for name in CONFIG_NAMES if (directory / name).is_file()]
    if len(found) > 1:
        names = " and ".join(str(p) for p in found)
        raise ConfigError(
            f"found {names}; keep only one {layer} configuration file",
            source=str(found[0]),
        )
    if found:
        return LayerFile(layer=layer, path=found[0], exists=True)
    return LayerFile(layer=layer, path=directory / CONFIG_NAMES[0], exists=False)


def config_dirs(
    workspace: Path, env: Mapping[str, str] | None = None
) -> list[tuple[Path, FileLayer]]:
    """The user and project configuration directories with their layer names, lowest first."""
    return [(user_config_dir(env), "user"), (project_config_dir(workspace), "project")]


def resolve_data_dir(data_dir: str | None) -> Path:
    """The user-level data directory: ``core.data_dir`` or the platform default."""
    if data_dir:
        return Path(data_dir).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_state_dir(workspace: Path, state_dir: str) -> Path:
    """The project state directory: ``core.state_dir`` resolved against ``workspace``."""
    return workspace / Path(state_dir).expanduser()
