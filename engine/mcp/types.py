"""The data the MCP manager reports: server states, their tools, and tool descriptions.

Plain frozen msgspec Structs, safe to hand to any thread, the CLI's JSON output or a planner.
This module must not import the ``mcp`` package (the CLI and planners read these without it).
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = ["ServerState", "ServerStatus", "ToolDescription", "ToolInfo"]


class ServerState(enum.StrEnum):
    """Where one server stands: ``running`` and ``failed`` last until the engine stops."""

    NOT_STARTED = "not started"
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    DISABLED = "disabled"
    STOPPED = "stopped"


class ToolInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One tool a server offers."""

    name: str
    """The tool's name on the server."""
    step_type: str
    """Its melody step type, ``mcp.<server>.<tool>`` (the tool's name normalised)."""
    description: str = ""
    input_schema: dict[str, Any] = msgspec.field(default_factory=dict)
    """The JSON Schema of the tool's arguments, as the server gave it."""
    granted: bool = True
    """Whether the configuration's ``tools`` lets Symphony call it."""
    read_only: bool = False
    """The server marks it read-only (``readOnlyHint``); a tool without the mark may change
    things (files, issues, databases) outside Symphony's review."""


class ServerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One configured server."""

    name: str
    state: ServerState
    command: str
    """The command line (program and arguments)."""
    reason: str = ""
    """Why it failed or is disabled."""
    tools: tuple[ToolInfo, ...] = ()
    start_ms: float | None = None
    """How long starting it took (spawn, initialize, list tools)."""


class ToolDescription(msgspec.Struct, frozen=True, kw_only=True):
    """A tool as a planner sees it: a step type it may put in a melody."""

    name: str
    """The step type (``mcp.github.search_issues``)."""
    description: str
    input_schema: dict[str, Any]
    server: str
    tool: str
    read_only: bool = False
