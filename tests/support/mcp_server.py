"""A real MCP server for the tests, speaking stdio (``python tests/support/mcp_server.py``).

Tools: ``add(a, b)`` (marked read-only), ``echo(text)``, ``fail()`` (raises),
``slow(seconds)`` (sleeps, for timeouts and cancellation), ``env(name)``. Environment knobs:
``MCP_TEST_START_DELAY`` (seconds to sleep before serving: a slow start), ``MCP_TEST_HANG``
(never answer anything), ``MCP_TEST_EXIT`` (exit at once with that status, after a line on
stderr). Any extra arguments are ignored, so a test can tag the process with a unique marker to
find it in the process table.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("symphony-test")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def fail() -> str:
    """Always raise."""
    raise RuntimeError("the fail tool failed on purpose")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep for ``seconds``, then answer."""
    import anyio

    await anyio.sleep(seconds)
    return f"slept {seconds:g}"


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of the server (empty when unset)."""
    return os.environ.get(name, "")


if __name__ == "__main__":
    if os.environ.get("MCP_TEST_EXIT"):
        print("mcp test server: exiting on purpose", file=sys.stderr, flush=True)
        raise SystemExit(int(os.environ["MCP_TEST_EXIT"]))
    if os.environ.get("MCP_TEST_HANG"):
        while True:
            time.sleep(60)
    time.sleep(float(os.environ.get("MCP_TEST_START_DELAY", "0")))
    server.run("stdio")
