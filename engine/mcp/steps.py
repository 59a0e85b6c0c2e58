"""MCP tools as melody step types, offered through the extension manager.

:class:`McpSteps` is a step provider (see :meth:`ExtensionManager.add_provider`): the server
``demo`` is the provider ``mcp:demo`` of the step types ``mcp.demo.<tool>``, so melodies,
``symphony run``, the conductor (policy, fallback, arbitration, recovery) and the step-type
listings handle them like any extension's steps. Each call is checked against the server's
``tools`` grant and recorded in the extensions' audit log (server, tool, an arguments summary)
and call metrics; a refusal raises :class:`PermissionDenied` naming the key to change.

:func:`tool_descriptions` is the planners' view: every granted tool's step type, description
and input schema. Must not talk to servers itself (:mod:`engine.mcp.manager` does).
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.extensions.manager import StepOutcome
from engine.extensions.store import CallRecord
from engine.mcp.schema import result_outputs, step_spec
from engine.mcp.types import ServerState, ToolDescription
from engine.types.errors import Cancelled, ExtensionError, PermissionDenied

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from engine.extensions.manager import AuditLog, ExtensionManager
    from engine.extensions.manifest import StepTypeSpec
    from engine.mcp.manager import McpManager
    from engine.mcp.types import ToolInfo

__all__ = [
    "MAY_CHANGE",
    "PROVIDER_PREFIX",
    "McpSteps",
    "mcp_steps",
    "summarize",
    "tool_descriptions",
]

#: Added to the description of a tool its server does not mark read-only: planners (and
#: people reading `symphony ext steps`) learn it may change things outside Symphony's review.
MAY_CHANGE = "[may change things: its server does not mark it read-only]"

#: Provider ids of MCP servers: ``mcp:<server>`` (never a valid extension id).
PROVIDER_PREFIX = "mcp:"
PERMISSION = "mcp.tool"
_SUMMARY_CHARS = 300
_VALUE_CHARS = 60


def summarize(arguments: Mapping[str, Any]) -> str:
    """A short, one-line summary of a call's arguments for the audit log."""
    parts = []
    for key, value in arguments.items():
        text = json.dumps(value, ensure_ascii=False, default=str)
        if len(text) > _VALUE_CHARS:
            text = text[: _VALUE_CHARS - 1] + "…"
        parts.append(f"{key}={text}")
    summary = ", ".join(parts)
    return summary if len(summary) <= _SUMMARY_CHARS else summary[: _SUMMARY_CHARS - 1] + "…"


class McpSteps:
    """Offer the tools of the MCP servers as step types, and run them.

    Args:
        manager: the MCP servers.
        audit: the extensions' audit log (permission decisions and call records).
        workspace: the workspace root (named in call records).
    """

    def __init__(self, manager: McpManager, audit: AuditLog, workspace: str) -> None:
        self.servers = manager
        self._audit = audit
        self._workspace = workspace
        self._lock = threading.Lock()
        self._specs: dict[tuple[str, str], StepTypeSpec] = {}

    def owns(self, provider: str) -> bool:
        """Whether ``provider`` (a provider id from :meth:`step_types`) is one of these servers."""
        return provider.startswith(PROVIDER_PREFIX)

    def audit_start(self, server: str, permission: str, target: str, detail: str) -> None:
        """Record what a starting server was given (for :class:`McpManager`'s ``audit``)."""
        self._audit.record(PROVIDER_PREFIX + server, permission, target, "allowed", detail)

    def step_types(
        self, names: Collection[str] | None = None
    ) -> dict[str, list[tuple[str, StepTypeSpec]]]:
        """Every tool of every enabled server (with ``names``: of the servers those
        ``mcp.<server>.<tool>`` step types name), starting the servers not started yet
        (together, each bounded by its start timeout; a failed one offers nothing)."""
        servers = self.servers.names()
        if names is not None:
            wanted = {n.split(".")[1] for n in names if n.startswith("mcp.") and n.count(".") >= 2}
            servers = [s for s in servers if s in wanted]
        if not servers:
            return {}
        result: dict[str, list[tuple[str, StepTypeSpec]]] = {}
        for status in self.servers.ensure_started(servers):
            if status.state is not ServerState.RUNNING:
                continue
            for tool in status.tools:
                spec = self._spec(status.name, tool)
                result.setdefault(tool.step_type, []).append((PROVIDER_PREFIX + status.name, spec))
        return result

    def _spec(self, server: str, tool: ToolInfo) -> StepTypeSpec:
        key = (server, tool.step_type)
        with self._lock:
            spec = self._specs.get(key)
            if spec is None:
                # first: planners see the start of a description only
                text = tool.description if tool.read_only else f"{MAY_CHANGE} {tool.description}"
                spec = step_spec(tool.step_type, tool.name, text.strip(), tool.input_schema)
                self._specs[key] = spec
            return spec

    def call(
        self,
        step_type: str,
        provider: str,
        values: Mapping[str, Any],
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[float | None, str], None] | None = None,
        timeout: float | None = None,
    ) -> StepOutcome:
        """Call the tool behind ``step_type`` on ``provider``'s server with checked inputs.

        Raises:
            PermissionDenied: the server's ``tools`` do not grant this tool.
            ExtensionError: the server is not running, or the call failed or timed out.
            Cancelled: ``cancel`` was set.
        """
        server = provider.removeprefix(PROVIDER_PREFIX)
        status = self.servers.status(server)
        tool = next((t for t in status.tools if t.step_type == step_type), None)
        if tool is None:
            raise ExtensionError(f"MCP server {server} offers no tool for step type {step_type}")
        # Optional arguments left out stay out: the server applies its own defaults.
        arguments = {k: v for k, v in values.items() if v is not None}
        if not tool.granted:
            granted = ", ".join(self.servers.config(server).tools) or "nothing"
            reason = f"granted: {granted}; add it to mcp.servers.{server}.tools"
            self._audit.record(provider, PERMISSION, tool.name, "denied", reason)
            raise PermissionDenied(provider, PERMISSION, tool.name, reason)
        self._audit.record(provider, PERMISSION, tool.name, "allowed", summarize(arguments))
        t0 = time.perf_counter()
        ok, error = False, ""
        try:
            result = self.servers.call(
                server,
                tool.name,
                arguments,
                cancel=cancel or threading.Event(),
                timeout=timeout,
                progress=progress,
            )
            outputs = result_outputs(result)
            ok = True
            if outputs["is_error"]:
                error = f"tool reported an error: {outputs['text'][:400]}"
            return StepOutcome(provider, step_type, outputs, (time.perf_counter() - t0) * 1000)
        except (ExtensionError, Cancelled) as e:
            error = str(e)
            raise
        finally:
            self._audit.call(
                CallRecord(
                    ts=time.time(),
                    workspace=self._workspace,
                    extension=provider,
                    step_type=step_type,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    ok=ok and not error,
                    error=error[:500],
                )
            )

    def stop(self) -> None:
        self.servers.stop()


def mcp_steps(extensions: ExtensionManager) -> McpSteps | None:
    """The MCP step provider attached to ``extensions``, if any."""
    return next((p for p in extensions.providers if isinstance(p, McpSteps)), None)


def tool_descriptions(extensions: ExtensionManager) -> list[ToolDescription]:
    """The MCP tools a planner may use: every granted tool of every enabled server that starts.

    Starts the servers not started yet (all at once, each bounded by its ``timeout_s``); a
    failed server contributes nothing.

    Args:
        extensions: the engine's extension manager (``engine.extensions``).

    Returns:
        One description per tool, by step type: ``name`` is the step type to put in a melody's
        ``uses``, ``input_schema`` the JSON Schema of its ``with`` values.
    """
    steps = mcp_steps(extensions)
    if steps is None:
        return []
    result = [
        ToolDescription(
            name=tool.step_type,
            description=tool.description,
            input_schema=tool.input_schema,
            server=status.name,
            tool=tool.name,
            read_only=tool.read_only,
        )
        for status in steps.servers.ensure_started()
        if status.state is ServerState.RUNNING
        for tool in status.tools
        if tool.granted
    ]
    return sorted(result, key=lambda d: d.name)
