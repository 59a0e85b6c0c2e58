"""MCP servers as tool providers: real server processes (tests/support/mcp_server.py), a real
engine and audit database; nothing mocked."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.mcp.steps import MAY_CHANGE, mcp_steps, tool_descriptions
from engine.mcp.types import ServerState
from engine.runtime import Engine
from engine.types.errors import Cancelled, ExtensionError, PermissionDenied

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.mcp.manager import McpManager

SERVER = str(Path(__file__).parents[1] / "support" / "mcp_server.py")


def server(marker: str = "", **extra: Any) -> str:
    """A ``[mcp.servers.X]`` body running the test server (``marker`` tags its process)."""
    lines = [f"command = {sys.executable!r}", f"args = [{SERVER!r}, {marker!r}]"]
    env = extra.pop("env", {})
    if env:
        pairs = ", ".join(f"{k} = {v!r}" for k, v in env.items())
        lines.append(f"env = {{ {pairs} }}")
    lines += [f"{k} = {v!r}" for k, v in extra.items()]
    return "\n".join(lines)


def workspace_with(tmp_path: Path, servers: dict[str, str]) -> Path:
    ws = tmp_path / "ws"
    (ws / ".symphony").mkdir(parents=True)
    text = "\n\n".join(f"[mcp.servers.{name}]\n{body}" for name, body in servers.items())
    (ws / ".symphony" / "config.toml").write_text(text.replace("'", '"') + "\n")
    return ws


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.stop()


def start(engines: list[Engine], ws: Path) -> Engine:
    engine = Engine(ws, watch_config=False)
    engine.start()
    engines.append(engine)
    return engine


def servers_of(engine: Engine) -> McpManager:
    steps = mcp_steps(engine.extensions)
    assert steps is not None
    return steps.servers


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


def test_tools_are_step_types_and_calls_are_audited(tmp_path: Path, engines: list[Engine]) -> None:
    ws = workspace_with(tmp_path, {"demo": server()})
    engine = start(engines, ws)
    manager = engine.extensions
    assert servers_of(engine).status("demo").state is ServerState.NOT_STARTED  # lazy
    types = manager.step_types()
    assert {"mcp.demo.add", "mcp.demo.echo", "mcp.demo.fail", "mcp.demo.slow"} <= set(types)
    assert types["mcp.demo.add"][0][0] == "mcp:demo"
    spec = types["mcp.demo.add"][0][1]
    assert spec.inputs["a"].type == "integer" and spec.inputs["a"].required

    outcome = manager.call("mcp.demo.add", {"a": 2, "b": 40})
    assert outcome.outputs["text"] == "42"
    assert outcome.outputs["is_error"] is False
    assert outcome.outputs["content"] == [{"type": "text", "text": "42"}]

    failed = manager.call("mcp.demo.fail", {})
    assert failed.outputs["is_error"] is True
    assert "fail" in failed.outputs["text"]

    names = [d.name for d in tool_descriptions(manager)]
    assert "mcp.demo.add" in names
    add = next(d for d in tool_descriptions(manager) if d.name == "mcp.demo.add")
    assert add.input_schema["required"] == ["a", "b"]
    assert add.description == "Add two integers." and add.read_only
    # a tool its server does not mark read-only says so to planners, first
    specs = {name: providers[0][1] for name, providers in manager.step_types().items()}
    assert specs["mcp.demo.add"].description == "Add two integers."
    assert specs["mcp.demo.echo"].description == f"{MAY_CHANGE} Return the text unchanged."

    manager.audit.flush()
    db = engine._extensions._db
    assert db is not None
    records = db.audit("mcp:demo", denied_only=False, limit=50, workspace=None)
    calls = [r for r in records if r.permission == "mcp.tool"]
    assert any(r.target == "add" and r.detail == "a=2, b=40" for r in calls)
    assert any(r.permission == "process" and SERVER in r.target for r in records)


def test_tools_not_granted_are_refused_and_audited(tmp_path: Path, engines: list[Engine]) -> None:
    ws = workspace_with(tmp_path, {"demo": server(tools=["add", "sl*"])})
    engine = start(engines, ws)
    manager = engine.extensions
    assert manager.call("mcp.demo.add", {"a": 1, "b": 1}).outputs["text"] == "2"
    with pytest.raises(PermissionDenied, match=r"mcp\.servers\.demo\.tools"):
        manager.call("mcp.demo.echo", {"text": "hi"})
    assert "mcp.demo.echo" not in [d.name for d in tool_descriptions(manager)]
    db = engine._extensions._db
    assert db is not None
    denied = db.audit("mcp:demo", denied_only=True, limit=10, workspace=None)
    assert [(r.permission, r.target) for r in denied] == [("mcp.tool", "echo")]


def test_broken_servers_fail_with_reasons_and_block_nothing(
    tmp_path: Path, engines: list[Engine]
) -> None:
    ws = workspace_with(
        tmp_path,
        {
            "demo": server(),
            "missing": 'command = "symphony-no-such-mcp-server"',
            "dies": server(env={"MCP_TEST_EXIT": "3"}),
            "hangs": server(env={"MCP_TEST_HANG": "1"}, timeout_s=2.0),
        },
    )
    t0 = time.monotonic()
    engine = start(engines, ws)
    assert time.monotonic() - t0 < 10  # the hanging server does not hold up the engine start
    t0 = time.monotonic()
    statuses = {s.name: s for s in servers_of(engine).ensure_started()}
    assert time.monotonic() - t0 < 2.0 + 3.0  # bounded by the hanging one's start timeout
    assert statuses["demo"].state is ServerState.RUNNING
    assert statuses["missing"].state is ServerState.FAILED
    assert "not found on PATH" in statuses["missing"].reason
    assert statuses["dies"].state is ServerState.FAILED
    assert "exiting on purpose" in statuses["dies"].reason  # its stderr
    assert statuses["hangs"].state is ServerState.FAILED
    assert "did not start within 2 s" in statuses["hangs"].reason
    # The working server still works; the failed ones say why.
    assert engine.extensions.call("mcp.demo.echo", {"text": "ok"}).outputs["text"] == "ok"
    with pytest.raises(ExtensionError, match="exiting on purpose"):
        servers_of(engine).call("dies", "add", {}, cancel=threading.Event())


def test_servers_start_lazily_and_in_parallel(tmp_path: Path, engines: list[Engine]) -> None:
    delay = {"MCP_TEST_START_DELAY": "2"}
    ws = workspace_with(tmp_path, {"one": server(env=delay), "two": server(env=delay)})
    engine = start(engines, ws)
    servers = servers_of(engine)
    assert {s.state for s in servers.statuses()} == {ServerState.NOT_STARTED}
    t0 = time.monotonic()
    types = engine.extensions.step_types()
    elapsed = time.monotonic() - t0
    assert "mcp.one.add" in types and "mcp.two.add" in types
    assert elapsed < 4.0, f"the two starts took {elapsed:.1f} s: not concurrent"


def test_a_run_starts_only_the_servers_its_steps_name(
    tmp_path: Path, engines: list[Engine]
) -> None:
    from engine.runs.service import Runner

    ws = workspace_with(tmp_path, {"one": server(), "two": server()})
    (ws / ".symphony" / "melodies").mkdir(parents=True, exist_ok=True)
    (ws / ".symphony" / "melodies" / "m.toml").write_text(
        '[melody]\nname = "m"\n\n[[steps]]\nid = "s"\nuses = "shell.run"\n'
        'with = { command = "true" }\n\n[[steps]]\nid = "t"\nuses = "mcp.one.add"\n'
        "with = { a = 1, b = 2 }\n"
    )
    engine = start(engines, ws)
    runner = Runner(engine)
    try:
        summary = runner.new_run("m", {}).execute()
    finally:
        runner.close()
    assert summary.state.value == "completed"
    states = {s.name: s.state for s in servers_of(engine).statuses()}
    assert states == {"one": ServerState.RUNNING, "two": ServerState.NOT_STARTED}


def test_timeout_and_cancellation_of_a_call(tmp_path: Path, engines: list[Engine]) -> None:
    ws = workspace_with(tmp_path, {"demo": server()})
    engine = start(engines, ws)
    manager = engine.extensions
    t0 = time.monotonic()
    with pytest.raises(ExtensionError, match=r"timed out after 0\.5 s"):
        manager.call("mcp.demo.slow", {"seconds": 30}, timeout=0.5)
    assert time.monotonic() - t0 < 5
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        manager.call("mcp.demo.slow", {"seconds": 30}, cancel=cancel)
    # The server survives both and keeps answering.
    assert manager.call("mcp.demo.slow", {"seconds": 0.01}).outputs["text"] == "slept 0.01"


def test_env_passthrough_and_references(
    tmp_path: Path, engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_TEST_SECRET", "s3cret")
    monkeypatch.setenv("MCP_TEST_OTHER", "not passed")
    ws = workspace_with(
        tmp_path,
        {
            "demo": server(
                env={"FROM_REF": "${MCP_TEST_SECRET}"}, env_passthrough=["MCP_TEST_SECRET"]
            )
        },
    )
    engine = start(engines, ws)
    call = engine.extensions.call
    assert call("mcp.demo.env", {"name": "MCP_TEST_SECRET"}).outputs["text"] == "s3cret"
    assert call("mcp.demo.env", {"name": "FROM_REF"}).outputs["text"] == "s3cret"
    assert call("mcp.demo.env", {"name": "MCP_TEST_OTHER"}).outputs["text"] == ""


def test_engine_stop_ends_every_server_process(tmp_path: Path) -> None:
    marker = f"mcp-test-{uuid.uuid4().hex}"
    hangs = server(marker, env={"MCP_TEST_HANG": "1"}, timeout_s=1.0)
    ws = workspace_with(tmp_path, {"a": server(marker), "b": server(marker), "hangs": hangs})
    engine = Engine(ws, watch_config=False)
    engine.start()
    try:
        engine.extensions.step_types()  # the hanging one is given up on, its process lives on
        assert len(processes_with(marker)) >= 2
        assert engine.extensions.call("mcp.b.add", {"a": 1, "b": 2}).outputs["text"] == "3"
    finally:
        engine.stop()
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []
