"""MCP (Model Context Protocol) servers attached as tool providers (SPEC §3.8).

:mod:`engine.mcp.manager` owns the server processes and their client sessions on one event-loop
thread; :mod:`engine.mcp.steps` offers every tool as the melody step type
``mcp.<server>.<tool>`` through the extension manager, permission-checked and audited;
:func:`engine.mcp.steps.tool_descriptions` lists the tools for planners. Nothing here runs at
import time or starts a server before it is first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.config.models import McpServerConfig
    from engine.extensions.manager import ExtensionManager
    from engine.mcp.steps import McpSteps

__all__ = ["attach"]


def attach(extensions: ExtensionManager, servers: Mapping[str, McpServerConfig]) -> McpSteps:
    """Offer the tools of ``servers`` as step types of ``extensions`` (stopped with it).

    Starts nothing: each server starts when its tools are first needed.
    """
    from engine.mcp.manager import McpManager
    from engine.mcp.steps import McpSteps

    steps: McpSteps | None = None

    def audit(server: str, permission: str, target: str, detail: str) -> None:
        assert steps is not None
        steps.audit_start(server, permission, target, detail)

    manager = McpManager(servers, workspace=extensions.workspace, audit=audit)
    steps = McpSteps(manager, extensions.audit, str(extensions.workspace))
    extensions.add_provider(steps)
    return steps
