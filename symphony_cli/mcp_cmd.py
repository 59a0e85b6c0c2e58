"""``symphony mcp …``: attach, list, inspect and remove MCP (Model Context Protocol) servers.

``add`` and ``remove`` only edit the configuration (the project file by default, ``--user`` for
the user's); ``list`` and ``tools`` start the engine headless and start the servers (all at once)
to show their state and tools.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from engine.types.errors import ExtensionError, UsageError
from symphony_cli.output import (
    WorkspaceOption,
    emit_json,
    load_workspace_config,
    out,
    say,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.mcp.manager import McpManager
    from engine.mcp.types import ServerStatus

app = typer.Typer(
    help="Attach MCP servers as tool providers: their tools become step types mcp.NAME.TOOL.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The server's name, e.g. github.")]
UserOption = Annotated[
    bool, typer.Option("--user", help="The user's configuration file, not the project's.")
]

#: Variable names that usually hold a secret: their values are never written to a file.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|_KEY$|^KEY$|CREDENTIAL|AUTH", re.I)
_ONLY_REFS = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\})+$")


@contextmanager
def _servers(ctx: typer.Context, workspace: Path) -> Iterator[McpManager]:
    from engine.mcp.steps import mcp_steps
    from engine.runtime import Engine

    # Configuration errors first, as usage errors naming file and key (exit 2).
    root, _ = load_workspace_config(ctx, workspace)
    engine = Engine(root, overrides=ctx.find_root().obj["overrides"], watch_config=False)
    engine.start()
    try:
        steps = mcp_steps(engine.extensions)
        if steps is None:
            raise UsageError(
                "no MCP server is configured; attach one with"
                " `symphony mcp add NAME -- COMMAND [ARGS...]`"
            )
        yield steps.servers
    finally:
        engine.stop()


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise UsageError(f"--env {pair!r}: write NAME=VALUE (NAME a variable name)")
        if _SECRET_NAME.search(key) and value and not _ONLY_REFS.match(value):
            raise UsageError(
                f"--env {key}=…: that looks like a secret, and Symphony never writes secrets to"
                f" its configuration; pass it from your environment with --pass-env {key}, or"
                f" --env {key}='${{OTHER_VAR}}' to pass another variable's value"
            )
        env[key] = value
    return env


@app.command()
def add(
    ctx: typer.Context,
    name: NameArgument,
    command: Annotated[
        list[str],
        typer.Argument(help="The command that starts the server, after `--`.", metavar="COMMAND"),
    ],
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            metavar="NAME=VALUE",
            help="An environment variable of the server (no secrets: `${VAR}` passes the"
            " value of your variable VAR). Repeatable.",
        ),
    ] = None,
    pass_env: Annotated[
        list[str] | None,
        typer.Option(
            "--pass-env",
            metavar="NAME",
            help="A variable of your environment the server may read (e.g. its API token)."
            " Repeatable.",
        ),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool",
            metavar="PATTERN",
            help="Only these tools may be called (names or globs; default: all). Repeatable.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Seconds the server may take to start."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a server of the same name.")
    ] = False,
    user: UserOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Attach the MCP server NAME, started by COMMAND (stdio): symphony mcp add NAME -- CMD ARGS."""
    from engine.config import ConfigService

    root, loaded = load_workspace_config(ctx, workspace)
    if not command:
        raise UsageError("give the command after `--`: symphony mcp add NAME -- COMMAND [ARGS...]")
    if name in loaded.config.mcp.servers and not replace:
        raise UsageError(
            f"an MCP server named {name!r} is already configured;"
            f" `symphony mcp remove {name}` first, or add --replace"
        )
    table: dict[str, Any] = {"command": command[0], "args": list(command[1:])}
    if env:
        table["env"] = _env_pairs(env)
    if pass_env:
        table["env_passthrough"] = list(dict.fromkeys(pass_env))
    if tool:
        table["tools"] = list(dict.fromkeys(tool))
    if timeout is not None:
        table["timeout_s"] = float(timeout)
    layer: Literal["user", "project"] = "user" if user else "project"
    service = ConfigService(root, overrides=ctx.find_root().obj["overrides"])
    if replace:
        service.set_value(f"mcp.servers.{name}", None, layer)
    path = service.set_value(f"mcp.servers.{name}", table, layer)
    say(f"added MCP server {name} to {path}")
    say(f"its tools become step types mcp.{name}.TOOL; see them with `symphony mcp tools {name}`")


@app.command()
def remove(
    ctx: typer.Context,
    name: NameArgument,
    user: Annotated[
        bool, typer.Option("--user", help="Remove it from the user's configuration file.")
    ] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Detach the MCP server NAME (from the file that defines it)."""
    from engine.config import ConfigService

    root, loaded = load_workspace_config(ctx, workspace)
    prefix = f"mcp.servers.{name}."
    layers = {o.layer for k, o in loaded.origins.items() if k.startswith(prefix)}
    wanted: Literal["user", "project"] = "user" if user or "project" not in layers else "project"
    if wanted not in layers:
        names = ", ".join(sorted(loaded.config.mcp.servers)) or "none"
        where = "the user's configuration" if user else "the configuration files"
        raise UsageError(f"no MCP server {name!r} in {where} (configured: {names})")
    service = ConfigService(root, overrides=ctx.find_root().obj["overrides"])
    path = service.set_value(f"mcp.servers.{name}", None, wanted)
    say(f"removed MCP server {name} from {path}")


def _status_json(status: ServerStatus, *, schemas: bool) -> dict[str, Any]:
    return {
        "name": status.name,
        "state": str(status.state),
        "reason": status.reason,
        "command": status.command,
        "start_ms": status.start_ms,
        "tools": [
            {
                "name": t.name,
                "step_type": t.step_type,
                "description": t.description,
                "granted": t.granted,
                "read_only": t.read_only,
                **({"input_schema": t.input_schema} if schemas else {}),
            }
            for t in status.tools
        ],
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    no_start: Annotated[
        bool, typer.Option("--no-start", help="Show the configuration only; start nothing.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """The configured MCP servers: state (not started, running, failed + reason) and tools."""
    if no_start:
        _, loaded = load_workspace_config(ctx, workspace)
        if not loaded.config.mcp.servers:
            out("no MCP servers (symphony mcp add NAME -- COMMAND [ARGS...])")
            return
    with _servers(ctx, workspace) as servers:
        statuses = servers.statuses() if no_start else servers.ensure_started(servers.names())
    if json_:
        emit_json([_status_json(s, schemas=False) for s in statuses])
        return
    for status in statuses:
        reason = f": {status.reason}" if status.reason else ""
        out(f"{status.name}  {status.state}{reason}")
        out(f"    command: {status.command}")
        if status.tools:
            names = [t.name + ("" if t.granted else " (not granted)") for t in status.tools]
            out(f"    tools: {', '.join(names)}")


@app.command()
def tools(
    ctx: typer.Context,
    name: NameArgument,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """The tools of the MCP server NAME with their step types and input schemas."""
    with _servers(ctx, workspace) as servers:
        (status,) = servers.ensure_started([name])
    if status.state != "running":
        raise ExtensionError(f"MCP server {name} is {status.state}: {status.reason}")
    if json_:
        emit_json(_status_json(status, schemas=True)["tools"])
        return
    if not status.tools:
        out(f"{name} offers no tools")
    for tool in status.tools:
        grant = "" if tool.granted else f"  (not granted: see mcp.servers.{name}.tools)"
        kind = "read-only" if tool.read_only else "may change things"
        out(f"{tool.step_type}  ({tool.name}, {kind}){grant}")
        if tool.description:
            out(f"    {tool.description.splitlines()[0]}")
        schema = json.dumps(tool.input_schema, indent=2, sort_keys=True)
        out("    input schema: " + schema.replace("\n", "\n    "))
