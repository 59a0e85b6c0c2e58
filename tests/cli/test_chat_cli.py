"""``symphony chat`` through the real CLI (subprocesses) against a real chat-completions server
on 127.0.0.1: streaming, stdin, ``@file`` mentions, artifacts, no model, and ctrl+c."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from engine.config.models import ArtifactRetention
from engine.pit.artifacts.store import ArtifactStore
from tests.cli.test_cli import symphony
from tests.support.model_server import Behaviour, ModelServer

if TYPE_CHECKING:
    from pathlib import Path

KEY = "sk-chat-cli-secret-0123456789"


def configure(ws: Path, server: ModelServer, extra: str = "") -> None:
    (ws / ".symphony").mkdir(exist_ok=True)
    (ws / ".symphony" / "config.toml").write_text(
        f'[aide.models.local]\nbase_url = "{server.base_url}"\nmodel = "m1"\n'
        f"input_price = 2.0\noutput_price = 8.0\nmax_retries = 0\ntimeout_s = 60.0\n{extra}"
    )


@pytest.fixture
def workspace(tmp_path: Path, server: ModelServer) -> Path:
    ws = tmp_path / "proj"
    ws.mkdir()
    (ws / "app.py").write_text("def add(a, b):\n    return a + b\n")
    configure(ws, server)
    return ws


def test_one_answer_streams_to_stdout_and_usage_to_stderr(
    workspace: Path, server: ModelServer
) -> None:
    server.then(Behaviour(text="Four is the answer.", usage=(1000, 500)))
    result = symphony("chat", "what is 2 + 2?", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Four is the answer.\n"
    assert "1500 tokens (1000 in, 500 out)" in result.stderr
    assert "$0.0060" in result.stderr  # (1000 * 2 + 500 * 8) / 1e6
    body = server.requests[-1].body
    assert body["stream"] is True and body["model"] == "m1"
    assert body["messages"] == [{"role": "user", "content": "what is 2 + 2?"}]


def test_the_message_can_come_from_stdin_with_a_system_prompt(
    workspace: Path, server: ModelServer
) -> None:
    result = symphony("chat", "--system", "Be brief.", cwd=workspace, stdin="hello from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hello from a pipe\n"
    assert server.requests[-1].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello from a pipe"},
    ]


def test_a_mention_attaches_the_file_and_the_exchange_is_kept(
    workspace: Path, server: ModelServer
) -> None:
    server.then(Behaviour(text="It adds two numbers."))
    result = symphony("chat", "--json", "what does @app.py do?", cwd=workspace)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["reply"] == "It adds two numbers." and data["attachments"] == ["app.py"]
    sent = server.requests[-1].body["messages"][-1]["content"]
    assert "File app.py:" in sent and "def add(a, b):\n    return a + b\n" in sent
    assert sent.index("return a + b") < sent.index("what does @app.py do?")

    store = ArtifactStore.for_workspace(workspace, ArtifactRetention())
    try:
        replies = store.search("", tags=("chat", "reply"))
        assert [hit.hash for hit in replies] == [data["artifacts"]["reply"]]
        edges = store.lineage(data["artifacts"]["reply"], direction="up")
        assert [(e.parent, e.child) for e in edges] == [
            (data["artifacts"]["prompt"], data["artifacts"]["reply"])
        ]
        reply = json.loads(store.get_bytes(data["artifacts"]["reply"]))
        assert reply["reply"] == "It adds two numbers." and reply["model"] == "local"
        assert reply["usage"] == {"prompt_tokens": 11, "completion_tokens": 7}
    finally:
        store.close()


def test_the_key_never_reaches_the_artifacts(workspace: Path, server: ModelServer) -> None:
    configure(workspace, server, 'api_key_env = "CHAT_CLI_KEY"\n')
    server.then(Behaviour(text=f"your key {KEY} works"))
    result = symphony("chat", "--json", "hello", cwd=workspace, env={"CHAT_CLI_KEY": KEY})
    assert result.returncode == 0, result.stderr
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in result.stdout
    data = json.loads(result.stdout)
    store = ArtifactStore.for_workspace(workspace, ArtifactRetention())
    try:
        texts = [store.get_bytes(ref).decode() for ref in data["artifacts"].values()]
    finally:
        store.close()
    assert all(KEY not in text for text in texts)
    assert any("[redacted]" in text for text in texts)


def test_a_message_holding_the_key_is_not_sent(workspace: Path, server: ModelServer) -> None:
    configure(workspace, server, 'api_key_env = "CHAT_CLI_KEY"\n')
    result = symphony("chat", f"my key is {KEY}", cwd=workspace, env={"CHAT_CLI_KEY": KEY})
    assert result.returncode != 0
    assert "holds a configured API key" in result.stderr and KEY not in result.stderr
    assert not server.requests


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("explain @missing.py", "@missing.py: no such file in the workspace"),
        ("explain @../outside.txt", "outside the workspace"),
        ("explain @blob.bin", "@blob.bin: a binary file"),
    ],
)
def test_a_bad_mention_is_a_clear_error_and_nothing_is_sent(
    workspace: Path, server: ModelServer, message: str, error: str
) -> None:
    (workspace.parent / "outside.txt").write_text("secret\n")
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02")
    result = symphony("chat", message, cwd=workspace)
    assert result.returncode == 2
    assert error in result.stderr
    assert server.requests == []


def test_no_model_configured_exits_2_with_the_how_to(tmp_path: Path) -> None:
    result = symphony("chat", "hello", cwd=tmp_path)
    assert result.returncode == 2
    assert "no AI model is configured" in result.stderr
    assert "symphony models add" in result.stderr
    assert result.stdout == ""


def test_ctrl_c_cuts_a_stalled_answer_promptly(workspace: Path, server: ModelServer) -> None:
    server.then(Behaviour(text="first and then a long silence", stall_mid_stream=60))
    with subprocess.Popen(
        [sys.executable, "-m", "symphony_cli", "chat", "tell me a story"],
        cwd=workspace,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            assert proc.stdout.read(5) == "first"  # streamed before the stall
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=10)
            elapsed = time.monotonic() - sent
        finally:
            proc.kill()
    assert proc.returncode == 130
    assert elapsed < 3.0
    assert "answer cancelled" in err
