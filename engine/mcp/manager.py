"""The MCP manager: one event-loop thread owning every server's process and client session.

The ``mcp`` client is asyncio-based and its sessions must be entered and left by the same task,
so each server gets one long-lived task on the manager's loop (spawn, initialize, list tools,
then wait to be stopped); calls from engine threads are submitted to the loop and waited on
with the caller's cancel event and deadline. Nothing starts before it is needed: the loop thread
on the first request, a server on the first request that needs it (its tools, or a call). Servers
asked for together start together, each bounded by its ``timeout_s``: a bad command, a process
that exits at once or one that never answers ``initialize`` becomes ``failed`` with the reason
(and the tail of its stderr) without holding up the others. :meth:`McpManager.stop` ends them
all (closing stdin, then terminating the process tree, as the ``mcp`` stdio transport does).

Must not check permissions or audit tool calls (:mod:`engine.mcp.steps` does), nor import
``mcp`` before a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from engine.instruments import secrets
from engine.mcp.schema import step_name
from engine.mcp.types import ServerState, ServerStatus, ToolInfo
from engine.types.errors import Cancelled, ExtensionError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable, Mapping
    from pathlib import Path

    from engine.config.models import McpServerConfig

__all__ = ["McpManager"]

log = logging.getLogger("symphony.mcp")

#: Added to a server's start timeout before a waiting caller gives up on it.
START_GRACE_S = 2.0
#: How long stopping waits for the servers to end (the transport's own escalation is ~6 s).
STOP_TIMEOUT_S = 10.0
_STDERR_TAIL = 600
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_POLL_S = 0.05


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _describe(error: BaseException) -> str:
    error = _first_leaf(error)
    message = str(getattr(error, "message", "") or error).strip()
    if isinstance(error, OSError) and error.strerror:
        message = error.strerror
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _start_failure(error: BaseException) -> str:
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    leaf = _first_leaf(error)
    if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
        return "exited (or closed its output) before answering initialize"
    return _describe(leaf)


@dataclass
class _Server:
    name: str
    config: McpServerConfig
    state: ServerState = ServerState.NOT_STARTED
    reason: str = ""
    tools: tuple[ToolInfo, ...] = ()
    start_ms: float | None = None
    client: Any = None  # mcp.Client, once running
    future: Any = None  # concurrent.futures.Future of the serving task
    task: asyncio.Task[None] | None = None  # the serving task itself (on the loop)
    stop: asyncio.Event | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    errlog: TextIO | None = None

    def command_line(self) -> str:
        return " ".join([self.config.command, *self.config.args])

    def stderr_tail(self) -> str:
        if self.errlog is None:
            return ""
        try:
            self.errlog.flush()
            self.errlog.seek(0, os.SEEK_END)
            size = self.errlog.tell()
            self.errlog.seek(max(0, size - _STDERR_TAIL * 4))
            text = self.errlog.read()
        except (OSError, ValueError):
            return ""
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        tail = " | ".join(lines[-4:])
        return tail[-_STDERR_TAIL:]


class McpManager:
    """Own the MCP servers of one workspace.

    Args:
        servers: the configuration's ``mcp.servers``.
        workspace: the workspace root (servers run there unless their ``cwd`` says otherwise).
        environ: the environment server variables are taken from (default ``os.environ``).
        audit: called with (server, permission, target, detail) when a server starts, for the
            process it runs and every variable of Symphony's environment it is given.
    """

    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        *,
        workspace: Path,
        environ: Mapping[str, str] | None = None,
        audit: Callable[[str, str, str, str], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self._environ = environ
        self._audit = audit or (lambda *_a: None)
        self._lock = threading.Lock()
        self._servers = {name: _Server(name, cfg) for name, cfg in sorted(servers.items())}
        for srv in self._servers.values():
            if not srv.config.enabled:
                srv.state, srv.reason = ServerState.DISABLED, "enabled = false"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # --- queries -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every configured server's name."""
        return list(self._servers)

    def config(self, name: str) -> McpServerConfig:
        return self._get(name).config

    def statuses(self) -> list[ServerStatus]:
        """Every server as it stands now (starts nothing)."""
        with self._lock:
            return [self._status(s) for s in self._servers.values()]

    def status(self, name: str) -> ServerStatus:
        with self._lock:
            return self._status(self._get(name))

    @staticmethod
    def _status(srv: _Server) -> ServerStatus:
        return ServerStatus(
            name=srv.name,
            state=srv.state,
            command=srv.command_line(),
            reason=srv.reason,
            tools=srv.tools,
            start_ms=srv.start_ms,
        )

    def _get(self, name: str) -> _Server:
        srv = self._servers.get(name)
        if srv is None:
            import difflib

            close = difflib.get_close_matches(name, list(self._servers), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"no MCP server {name!r}{hint} (see `symphony mcp list`)")
        return srv

    # --- starting ------------------------------------------------------------------------------

    def ensure_started(self, names: Iterable[str] | None = None) -> list[ServerStatus]:
        """Start the named (default: every enabled) servers not started yet, all at once, and
        wait until each is running or failed (at most its ``timeout_s`` plus a little).

        Returns:
            The statuses of those servers.
        """
        targets = [self._get(n) for n in names] if names is not None else self._all()
        begun: list[_Server] = []
        with self._lock:
            if self._stopped:
                return [self._status(s) for s in targets]
            for srv in targets:
                if srv.state is ServerState.NOT_STARTED:
                    srv.state, srv.reason = ServerState.STARTING, ""
                    srv.ready.clear()
                    begun.append(srv)
        for srv in begun:
            srv.future = self._submit(self._serve(srv))
        for srv in targets:
            if srv.state is not ServerState.STARTING:
                continue
            if not srv.ready.wait(srv.config.timeout_s + START_GRACE_S):
                # Its own start timeout ends the process; only the waiting stops here.
                self._fail(srv, f"did not start within {srv.config.timeout_s:g} s")
        with self._lock:
            return [self._status(s) for s in targets]

    def _all(self) -> list[_Server]:
        return [s for s in self._servers.values() if s.config.enabled]

    def _fail(self, srv: _Server, reason: str) -> None:
        with self._lock:
            if srv.state in (ServerState.STOPPED, ServerState.DISABLED):
                return
            srv.state, srv.reason, srv.client = ServerState.FAILED, reason, None
        srv.ready.set()
        log.warning("MCP server %s failed: %s", srv.name, reason)

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mcp-loop", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _environment(self, srv: _Server) -> dict[str, str]:
        """The server's extra variables: passed-through ones and ``env`` with ``${NAME}``
        references filled in (audited by name; values never leave this function)."""
        environ = os.environ if self._environ is None else self._environ
        env: dict[str, str] = {}
        for name in srv.config.env_passthrough:
            if name in environ:
                env[name] = environ[name]
                secrets.register(environ[name])  # redacted wherever it might show up
                self._audit(srv.name, "env", name, "passed through to the server")

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise UsageError(
                    f"mcp.servers.{srv.name}.env refers to ${{{name}}}, which is not set"
                )
            self._audit(srv.name, "env", name, "referenced by the server's env")
            secrets.register(environ[name])
            return environ[name]

        for key, value in srv.config.env.items():
            env[key] = _REF.sub(fill, value)
        return env

    async def _serve(self, srv: _Server) -> None:
        """The server's whole life: start it, publish its tools, wait to be stopped."""
        srv.stop = asyncio.Event()
        srv.task = asyncio.current_task()
        cfg = srv.config
        t0 = time.perf_counter()
        try:
            program = shutil.which(cfg.command)
            if program is None:
                where = "" if "/" in cfg.command else " on PATH"
                raise UsageError(f"command {cfg.command!r} not found{where}")
            cwd = (self.workspace / cfg.cwd) if cfg.cwd else self.workspace
            if not cwd.is_dir():
                raise UsageError(
                    f"working folder {cwd} does not exist (mcp.servers.{srv.name}.cwd)"
                )
            env = self._environment(srv)
        except UsageError as e:
            self._fail(srv, str(e))
            return
        self._audit(srv.name, "process", srv.command_line(), "MCP server started")
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp_types import Implementation

        from engine import __version__

        srv.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        params = StdioServerParameters(command=program, args=list(cfg.args), env=env, cwd=str(cwd))
        client = Client(
            stdio_client(params, errlog=srv.errlog),
            mode="legacy",  # the initialize handshake every server speaks
            cache=None,
            client_info=Implementation(name="symphony", version=__version__),
        )
        # Waiters hear of a hung start at the deadline, not after the process is ended.
        watchdog = asyncio.get_running_loop().call_later(
            cfg.timeout_s, self._give_up, srv, f"did not start within {cfg.timeout_s:g} s"
        )
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(cfg.timeout_s):
                    await stack.enter_async_context(client)
                    tools = await self._list_tools(srv, client)
            except TimeoutError:
                self._fail(srv, self._with_stderr(srv, f"did not start within {cfg.timeout_s:g} s"))
                return
            except asyncio.CancelledError:
                self._fail(srv, "start cancelled")
                raise
            except Exception as e:  # whatever a broken server makes the client raise
                self._fail(srv, self._with_stderr(srv, _start_failure(e)))
                return
            finally:
                watchdog.cancel()
            with self._lock:
                if srv.state is not ServerState.STARTING:
                    return  # given up on (timed out) or stopped meanwhile
                srv.state, srv.tools, srv.client = ServerState.RUNNING, tools, client
                srv.start_ms = (time.perf_counter() - t0) * 1000
            srv.ready.set()
            log.info("MCP server %s running, %d tool(s)", srv.name, len(tools))
            await srv.stop.wait()

    async def _list_tools(self, srv: _Server, client: Any) -> tuple[ToolInfo, ...]:
        import fnmatch

        tools: list[ToolInfo] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                step = f"mcp.{srv.name}.{step_name(tool.name)}"
                if step in seen:
                    log.warning(
                        "MCP server %s: tool %r clashes with another as %s",
                        srv.name,
                        tool.name,
                        step,
                    )
                    continue
                seen.add(step)
                tools.append(
                    ToolInfo(
                        name=tool.name,
                        step_type=step,
                        description=(tool.description or tool.title or "").strip(),
                        input_schema=dict(tool.input_schema or {}),
                        granted=any(fnmatch.fnmatchcase(tool.name, p) for p in srv.config.tools),
                        read_only=bool(tool.annotations and tool.annotations.read_only_hint),
                    )
                )
            cursor = page.next_cursor
            if not cursor:
                return tuple(tools)

    def _give_up(self, srv: _Server, reason: str) -> None:
        if srv.state is ServerState.STARTING:
            self._fail(srv, self._with_stderr(srv, reason))

    @staticmethod
    def _with_stderr(srv: _Server, reason: str) -> str:
        tail = secrets.redact(srv.stderr_tail())
        return f"{reason}; its stderr: {tail}" if tail else reason

    # --- calls ---------------------------------------------------------------------------------

    def call(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        cancel: threading.Event,
        timeout: float | None = None,
        progress: Callable[[float | None, str], None] | None = None,
    ) -> Any:
        """Call ``tool`` on ``server`` (starting it first if need be); return the
        ``CallToolResult``.

        Raises:
            ExtensionError: the server is not running, failed, the call failed at the protocol
                level or timed out.
            Cancelled: ``cancel`` was set.
        """
        srv = self._get(server)
        self.ensure_started([server])
        client = srv.client
        if srv.state is not ServerState.RUNNING or client is None:
            raise ExtensionError(f"MCP server {server} is {srv.state}: {srv.reason}".rstrip(": "))
        limit = timeout if timeout is not None else srv.config.call_timeout_s

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            if progress is not None:
                progress(done / total if total else None, message or "")

        async def run() -> Any:
            return await client.call_tool(tool, dict(arguments), progress_callback=on_progress)

        future = self._submit(run())
        deadline = time.monotonic() + limit
        finished = threading.Event()
        future.add_done_callback(lambda _f: finished.set())
        while not finished.wait(_POLL_S):
            if cancel.is_set() or time.monotonic() >= deadline:
                future.cancel()
                if cancel.is_set():
                    raise Cancelled(f"call of {tool} on MCP server {server} cancelled")
                raise ExtensionError(f"MCP tool {tool} ({server}) timed out after {limit:g} s")
        try:
            return future.result()
        except Exception as e:
            from mcp import MCPError
            from mcp_types import CONNECTION_CLOSED

            leaf = _first_leaf(e)
            if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
                self._fail(srv, self._with_stderr(srv, "the server closed the connection"))
                raise ExtensionError(f"MCP server {server} failed: {srv.reason}") from e
            raise ExtensionError(f"MCP tool {tool} ({server}) failed: {_describe(e)}") from e

    # --- stopping ------------------------------------------------------------------------------

    async def _end_all(self, servers: list[_Server]) -> None:
        tasks = [s.task for s in servers if s.task is not None and not s.task.done()]
        for srv in servers:
            if srv.task is None or srv.task.done():
                continue
            if srv.state is ServerState.STARTING:
                srv.task.cancel()  # its transport's shielded clean-up ends the process
            elif srv.stop is not None:
                # Running, or failed and ending its process already: never cancel that, a
                # second cancellation can break through the transport's shielded clean-up.
                srv.stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """End every server and the loop thread; bounded by about STOP_TIMEOUT_S."""
        with self._lock:
            self._stopped = True
            loop, thread = self._loop, self._thread
            servers = list(self._servers.values())
        if loop is None or thread is None:
            return
        # Wait for the serving tasks themselves, not their futures: a cancelled future is done
        # at once while its task is still ending the process (shielded, bounded).
        ending = asyncio.run_coroutine_threadsafe(self._end_all(servers), loop)
        try:
            ending.result(STOP_TIMEOUT_S + 1)
        except TimeoutError:
            log.warning("MCP servers still ending after %g s; leaving them", STOP_TIMEOUT_S)
        with self._lock:
            for srv in servers:
                if srv.state in (ServerState.RUNNING, ServerState.STARTING):
                    srv.state, srv.reason = ServerState.STOPPED, ""
                srv.client = None
                if srv.errlog is not None:
                    srv.errlog.close()
                    srv.errlog = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)
        if not thread.is_alive():
            loop.close()
