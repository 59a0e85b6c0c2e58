"""The schema of Symphony's configuration: one pydantic model per section.

These models are the single source of truth for keys, types, defaults and descriptions: the loader
validates merged layers against them and :mod:`engine.config.reference` renders the user reference
from them. Every model is strict at this trust boundary (unknown keys are errors, ``"4"`` is not
an integer nor ``1`` a boolean) and frozen. Defaults
must not depend on the machine (the generated reference has to be stable). This module must not
read files or the environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AideConfig",
    "ArtifactRetention",
    "CoreConfig",
    "EditorConfig",
    "ExplorerConfig",
    "ExtensionsConfig",
    "IdeConfig",
    "IpcConfig",
    "McpConfig",
    "McpServerConfig",
    "ModelConfig",
    "SymphonyConfig",
    "TerminalConfig",
]

LogLevel = Literal["debug", "info", "warning", "error"]
Autosave = Literal["off", "on_focus_change", "after_delay"]
Transport = Literal["unix", "tcp"]

#: Modifier names a key may start with (Textual's names for them).
KEY_MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")


def _check_keys(keys: str) -> str:
    """Check a comma-separated list of keys such as ``"ctrl+s,f12"``; return it unchanged."""
    for key in keys.split(","):
        *modifiers, name = key.strip().split("+")
        if not name or any(m not in KEY_MODIFIERS for m in modifiers):
            raise ValueError(
                f"{key.strip()!r} is not a key: write modifiers ({', '.join(KEY_MODIFIERS)}) and"
                " a key name joined by +, e.g. 'ctrl+s', 'f5', 'alt+shift+up'; several keys are"
                " separated by commas"
            )
    return keys


#: One or more keys, comma-separated.
Keys = Annotated[str, AfterValidator(_check_keys)]


class _Section(BaseModel):
    """Common settings of every configuration model."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CoreConfig(_Section):
    """Engine-wide settings."""

    log_level: LogLevel = Field("info", description="Minimum level of log records that are kept.")
    data_dir: str | None = Field(
        None,
        description="User-level data directory; unset means the platform's user data directory.",
    )
    state_dir: str = Field(
        ".symphony",
        description="Project state directory (databases, artifacts), relative to the workspace.",
    )
    concurrency: int = Field(
        4,
        ge=1,
        description="Maximum number of melody steps and extension calls run at once "
        "(the default is 4 on every machine, whatever its CPU count).",
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="Default timeout, in seconds, of a request to the engine."
    )


class EditorConfig(_Section):
    """Editor preferences."""

    tab_size: int = Field(4, ge=1, le=16, description="Width of a tab stop, in columns.")
    insert_spaces: bool = Field(True, description="Insert spaces instead of a tab character.")
    word_wrap: bool = Field(False, description="Wrap long lines at the edge of the editor.")
    line_numbers: bool = Field(True, description="Show line numbers in the gutter.")
    autosave: Autosave = Field("off", description="When unsaved edits are written to disk.")
    autosave_delay_ms: int = Field(
        1000, ge=0, description="Idle time before saving when `autosave` is `after_delay`."
    )


class ExplorerConfig(_Section):
    """File explorer preferences."""

    show_hidden: bool = Field(
        True,
        description="Show files and folders whose name starts with `.` (those in `exclude` and"
        " `.gitignore` stay hidden).",
    )
    respect_gitignore: bool = Field(True, description="Hide paths matched by `.gitignore` files.")
    exclude: list[str] = Field(
        default_factory=lambda: [".git", "__pycache__", ".symphony", ".venv", "node_modules"],
        description="Names of files and folders never shown.",
    )


class TerminalConfig(_Section):
    """Terminal tabs and the bottom panel's terminal."""

    transcripts: bool = Field(
        True,
        description="Keep what a terminal showed (its scrollback as text) as an artifact when it"
        " closes, tagged `terminal`; `symphony artifacts search` finds it.",
    )


class IdeConfig(_Section):
    """Settings of the terminal workspace."""

    theme: str = Field("symphony-dark", description="Name of the colour theme.")
    keymap: dict[str, Keys] = Field(
        default_factory=dict,
        description='Keys to change: action id = keys, e.g. `save = "ctrl+s,f12"`. F1 in the'
        " workspace lists every action id with its keys.",
    )
    editor: EditorConfig = Field(default_factory=EditorConfig, description="Editor preferences.")
    explorer: ExplorerConfig = Field(
        default_factory=ExplorerConfig, description="File explorer preferences."
    )
    terminal: TerminalConfig = Field(
        default_factory=TerminalConfig, description="Terminal preferences."
    )

    @field_validator("keymap", mode="before")
    @classmethod
    def _legacy_keymap_name(cls, value: object) -> object:
        # Before keys were remappable this was the name of a binding set, always "default".
        return {} if value == "default" else value


class ExtensionsConfig(_Section):
    """Where extensions come from and which ones run."""

    dirs: list[str] = Field(
        default_factory=list, description="Extra directories searched for extension folders."
    )
    enabled: list[str] = Field(
        default_factory=list, description="Extensions to activate; empty means all installed."
    )
    disabled: list[str] = Field(
        default_factory=list, description="Extensions never activated (wins over `enabled`)."
    )
    marketplace: str = Field(
        "",
        description="The extension marketplace index used by `symphony ext install ID`, `update`"
        " and `search`: a JSON file (relative paths from the workspace) or an http(s) URL;"
        " empty means none (`--index` overrides it).",
    )
    activation_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Seconds an extension may take to load and activate before it is failed.",
    )
    settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each extension's settings by extension id, checked against the settings"
        ' its manifest declares (`extensions.settings."acme.lint".level = 2`).',
    )


class ModelConfig(_Section):
    """One AI model endpoint (an instrument's backend)."""

    base_url: str = Field(description="Base URL of the model's HTTP API.")
    model: str = Field(description="Model name sent to the API.")
    api_key_env: str | None = Field(
        None, description="Environment variable holding the API key; unset sends no key."
    )
    max_tokens: int | None = Field(
        None, ge=1, description="Maximum tokens per reply; unset uses the API's default."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; unset uses the API's default."
    )
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for a reply.")
    max_retries: int = Field(
        3, ge=0, le=10, description="Retries after a 429, a 5xx or a failed connection."
    )
    max_concurrent: int = Field(
        4, ge=1, description="Calls to this model at once; more wait their turn."
    )
    input_price: float | None = Field(
        None, ge=0, description="Price of a million prompt tokens (USD), for cost accounting."
    )
    output_price: float | None = Field(
        None, ge=0, description="Price of a million completion tokens (USD)."
    )


class ArtifactRetention(_Section):
    """How long artifacts are kept and where old ones go."""

    root: str = Field(
        ".symphony/artifacts",
        description="Folder of the artifact store; relative paths are inside the workspace.",
    )
    keep_tags: list[str] = Field(
        default_factory=lambda: ["keep"],
        description="Artifacts with any of these tags are never deleted by tiering.",
    )
    index_text_bytes: int = Field(
        1_048_576,
        ge=0,
        description="How many bytes of a text artifact are indexed for full-text search.",
    )

    hot_days: int = Field(7, ge=0, description="Days artifacts stay in the fast local store.")
    warm_days: int = Field(
        30,
        ge=0,
        description="Days artifacts stay on local disk before they expire or go cold; "
        "at least `hot_days`.",
    )
    budget_mb: int = Field(
        2048, ge=1, description="Disk budget of the local artifact store, in MiB."
    )
    cold_url: str | None = Field(
        None, description="Archive location for expired artifacts; unset deletes them."
    )

    @model_validator(mode="after")
    def _warm_after_hot(self) -> ArtifactRetention:
        if self.warm_days < self.hot_days:
            raise ValueError(
                f"warm_days ({self.warm_days}) must not be less than hot_days ({self.hot_days})"
            )
        return self


class AideConfig(_Section):
    """AI assistance: model endpoints and artifact retention."""

    default_model: str | None = Field(
        None, description="Model used when none is named (usually a key of `aide.models`)."
    )
    models: dict[str, ModelConfig] = Field(
        default_factory=dict, description="Model endpoints by name."
    )
    artifacts: ArtifactRetention = Field(
        default_factory=ArtifactRetention, description="Artifact retention."
    )
    keep_checkpoints: int = Field(
        50,
        ge=1,
        description="Checkpoints of applied changes kept per workspace (`symphony undo`"
        " restores kept ones); the oldest beyond this are removed after each apply.",
    )


class IpcConfig(_Section):
    """Out-of-process bus settings."""

    transport: Transport = Field(
        "unix", description="`unix` (domain socket) or `tcp` (loopback, the portable fallback)."
    )
    max_frame_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest frame accepted, in bytes."
    )
    rate_limit_per_s: float = Field(
        2000.0, gt=0, description="Messages per second allowed from one peer (token refill rate)."
    )
    rate_burst: int = Field(
        500, ge=1, description="Token bucket size: the burst one peer may send."
    )
    heartbeat_s: float = Field(5.0, gt=0, description="Seconds between heartbeats.")
    request_timeout_ms: int = Field(
        30000, ge=1, description="Default timeout of an IPC request, in milliseconds."
    )


#: An MCP server's name: one segment of its step types' names (``mcp.<name>.<tool>``).
MCP_SERVER_NAME_RE = r"^[a-z0-9][a-z0-9_-]*$"
#: An environment variable's name.
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _check_env_names(names: list[str]) -> list[str]:
    bad = [n for n in names if not re.match(ENV_NAME_RE, n)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an environment variable name")
    return names


class McpServerConfig(_Section):
    """One MCP (Model Context Protocol) server, started as a subprocess speaking stdio."""

    command: str = Field(
        min_length=1, description="Program that starts the server (looked up on PATH)."
    )
    args: list[str] = Field(default_factory=list, description="Its command-line arguments.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables of the server. Never put a secret here:"
        " write `${NAME}` to pass the value of Symphony's variable NAME instead.",
    )
    env_passthrough: Annotated[list[str], AfterValidator(_check_env_names)] = Field(
        default_factory=list,
        description="Variables of Symphony's environment the server may read (besides HOME,"
        " LOGNAME, PATH, SHELL, TERM and USER, which every server gets).",
    )
    cwd: str = Field(
        "", description="Working folder of the server; relative to the workspace, empty for it."
    )
    tools: list[str] = Field(
        default_factory=lambda: ["*"],
        description="The server's tools Symphony may call (names or globs); calls of others"
        " are refused and audited.",
    )
    timeout_s: float = Field(
        30.0, gt=0, le=600, description="Seconds the server may take to start and list its tools."
    )
    call_timeout_s: float = Field(
        300.0, gt=0, description="Seconds one tool call may take before it is cancelled."
    )
    enabled: bool = Field(True, description="Whether Symphony starts the server at all.")

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        _check_env_names(list(value))
        return value


class McpConfig(_Section):
    """MCP servers attached as tool providers (`symphony mcp add`)."""

    servers: dict[str, McpServerConfig] = Field(
        default_factory=dict,
        description="Servers by name; each tool becomes the step type `mcp.<name>.<tool>`.",
    )

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        bad = [n for n in value if not re.match(MCP_SERVER_NAME_RE, n)]
        if bad:
            raise ValueError(
                f"server name {bad[0]!r} must be lower-case letters, digits, '-' or '_'"
                " (it becomes part of step type names)"
            )
        return value


class SymphonyConfig(_Section):
    """The whole configuration; every key has a default, so an empty configuration is valid."""

    core: CoreConfig = Field(default_factory=CoreConfig, description="Engine-wide settings.")
    ide: IdeConfig = Field(default_factory=IdeConfig, description="Terminal workspace settings.")
    extensions: ExtensionsConfig = Field(
        default_factory=ExtensionsConfig, description="Extension sources and activation."
    )
    aide: AideConfig = Field(default_factory=AideConfig, description="AI models and artifacts.")
    ipc: IpcConfig = Field(default_factory=IpcConfig, description="Out-of-process bus.")
    mcp: McpConfig = Field(default_factory=McpConfig, description="MCP tool servers.")
