"""Symphony's layered configuration (SPEC §3.2).

Layers, lowest to highest: built-in defaults → user file → project file → environment
(``SYMPHONY_<SECTION>__<KEY>``) → ``--set section.key=value``. :func:`load_config` merges and
validates them once; :class:`ConfigService` keeps the configuration current while the engine runs
(hot reload, persistent edits). Errors are :class:`~engine.types.errors.ConfigError` naming the
file, key and reason. This package must not import Textual, and must not import watchfiles, yaml
or tomlkit at module level (start-up stays lean).
"""

from __future__ import annotations

from engine.config.loader import DEFAULT_ORIGIN, LoadedConfig, Origin, changed_keys, load_config
from engine.config.models import (
    AideConfig,
    ArtifactRetention,
    CoreConfig,
    EditorConfig,
    ExplorerConfig,
    ExtensionsConfig,
    IdeConfig,
    IpcConfig,
    ModelConfig,
    SymphonyConfig,
)
from engine.config.paths import LayerFile, project_config_dir, user_config_dir
from engine.config.service import ConfigEvent, ConfigService


def reference_markdown() -> str:
    """The configuration reference (``docs/configuration.md``) generated from the models."""
    # Imported here so `python -m engine.config.reference` does not find itself pre-imported.
    from engine.config.reference import reference_markdown as render

    return render()


__all__ = [
    "DEFAULT_ORIGIN",
    "AideConfig",
    "ArtifactRetention",
    "ConfigEvent",
    "ConfigService",
    "CoreConfig",
    "EditorConfig",
    "ExplorerConfig",
    "ExtensionsConfig",
    "IdeConfig",
    "IpcConfig",
    "LayerFile",
    "LoadedConfig",
    "ModelConfig",
    "Origin",
    "SymphonyConfig",
    "changed_keys",
    "load_config",
    "project_config_dir",
    "reference_markdown",
    "user_config_dir",
]
