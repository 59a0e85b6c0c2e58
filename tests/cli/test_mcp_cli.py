"""``symphony mcp add|list|tools|remove`` and an MCP tool in ``symphony run``, through the real
CLI and a real MCP server process (tests/support/mcp_server.py)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.test_cli import symphony

SERVER = str(Path(__file__).parents[1] / "support" / "mcp_server.py")

MELODY = """
[melody]
name = "sum"

[[steps]]
id = "add"
uses = "mcp.demo.add"
with = { a = 2, b = 3 }

[[steps]]
id = "show"
uses = "mcp.demo.echo"
with = { text = "sum=${steps.add.outputs.text}" }
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    (ws / ".symphony" / "melodies").mkdir(parents=True)
    (ws / ".symphony" / "melodies" / "sum.toml").write_text(textwrap.dedent(MELODY))
    return ws


def test_add_list_tools_remove(workspace: Path) -> None:
    added = symphony(
        "mcp", "add", "demo", "--env", "LEVEL=debug", "--pass-env", "DEMO_TOKEN",
        "--", sys.executable, SERVER, "--flag",
        cwd=workspace,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    config = (workspace / ".symphony" / "config.toml").read_text()
    assert "[mcp.servers.demo]" in config
    assert '"--flag"' in config and "DEMO_TOKEN" in config
    again = symphony("mcp", "add", "demo", "--", "true", cwd=workspace)
    assert again.returncode == 2
    assert "already configured" in again.stderr

    listed = symphony("mcp", "list", cwd=workspace)
    assert listed.returncode == 0, listed.stderr
    assert "demo  running" in listed.stdout
    assert "add, echo, fail, slow" in listed.stdout
    quiet = symphony("mcp", "list", "--no-start", "--json", cwd=workspace)
    assert json.loads(quiet.stdout)[0]["state"] == "not started"

    tools = symphony("mcp", "tools", "demo", "--json", cwd=workspace)
    assert tools.returncode == 0, tools.stderr
    by_name = {t["name"]: t for t in json.loads(tools.stdout)}
    assert by_name["add"]["step_type"] == "mcp.demo.add"
    assert by_name["add"]["input_schema"]["properties"]["a"]["type"] == "integer"
    assert by_name["add"]["read_only"] is True and by_name["echo"]["read_only"] is False
    text = symphony("mcp", "tools", "demo", cwd=workspace)
    assert "mcp.demo.add  (add, read-only)" in text.stdout
    assert "mcp.demo.echo  (echo, may change things)" in text.stdout

    removed = symphony("mcp", "remove", "demo", cwd=workspace)
    assert removed.returncode == 0, removed.stderr
    assert "demo" not in (workspace / ".symphony" / "config.toml").read_text()
    gone = symphony("mcp", "remove", "demo", cwd=workspace)
    assert gone.returncode == 2
    assert "no MCP server 'demo'" in gone.stderr


def test_user_file_and_secrets_are_never_written(workspace: Path, tmp_path: Path) -> None:
    secret = symphony("mcp", "add", "gh", "--env", "GITHUB_TOKEN=ghp_x", "--", "x", cwd=workspace)
    assert secret.returncode == 2
    assert "--pass-env GITHUB_TOKEN" in secret.stderr
    assert not (workspace / ".symphony" / "config.toml").exists()
    ref = symphony(
        "mcp", "add", "gh", "--user", "--env", "GITHUB_TOKEN=${GH_TOKEN}", "--", "gh-mcp",
        cwd=workspace,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    assert not (workspace / ".symphony" / "config.toml").exists()
    listed = symphony("mcp", "list", "--no-start", "--json", cwd=workspace)
    assert [s["name"] for s in json.loads(listed.stdout)] == ["gh"]
    removed = symphony("mcp", "remove", "gh", "--user", cwd=workspace)
    assert removed.returncode == 0, removed.stderr


def test_melody_runs_an_mcp_tool_and_the_call_is_audited(workspace: Path) -> None:
    added = symphony("mcp", "add", "demo", "--", sys.executable, SERVER, cwd=workspace)
    assert added.returncode == 0, added.stderr
    run = symphony("run", "sum", "--json", cwd=workspace)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events[-1]["event"] == "RunFinished"
    assert events[-1]["state"] == "completed"
    finals = {
        e["step_id"]: e["state"]
        for e in events
        if e["event"] == "StepStateChanged" and e["state"] not in ("queued", "running")
    }
    assert finals == {"add": "completed", "show": "completed"}

    audit = symphony("ext", "audit", "mcp:demo", "--json", cwd=workspace)
    assert audit.returncode == 0, audit.stderr
    records = json.loads(audit.stdout)
    calls = [(r["permission"], r["target"], r["detail"]) for r in records]
    assert ("mcp.tool", "add", "a=2, b=3") in calls
    assert ("mcp.tool", "echo", 'text="sum=5"') in calls  # the add step's output, passed on


def test_failed_server_is_reported_with_its_reason(workspace: Path) -> None:
    symphony("mcp", "add", "demo", "--", sys.executable, SERVER, cwd=workspace)
    symphony("mcp", "add", "broken", "--", "symphony-no-such-server", cwd=workspace)
    listed = symphony("mcp", "list", cwd=workspace)
    assert listed.returncode == 0, listed.stderr
    assert "demo  running" in listed.stdout
    assert "broken  failed: command 'symphony-no-such-server' not found on PATH" in listed.stdout
    tools = symphony("mcp", "tools", "broken", cwd=workspace)
    assert tools.returncode == 1
    assert "not found on PATH" in tools.stderr


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('args = ["x"]', "mcp.servers.demo.command"),
        ('command = "python"\nargs = "server.py --flag"', "mcp.servers.demo.args"),
        (
            'command = "python"\nenv_passthrough = ["NOT A NAME"]',
            "mcp.servers.demo.env_passthrough",
        ),
    ],
)
def test_bad_config_names_the_key(workspace: Path, body: str, key: str) -> None:
    (workspace / ".symphony" / "config.toml").write_text(f"[mcp.servers.demo]\n{body}\n")
    listed = symphony("mcp", "list", cwd=workspace)
    assert listed.returncode == 2
    assert key in listed.stderr
