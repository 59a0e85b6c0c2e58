"""``symphony run``, ``runs`` and ``melody validate`` as scripts and CI use them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from tests.cli.test_cli import symphony
from tests.support.pty_cli import PtyCli

if TYPE_CHECKING:
    from pathlib import Path

CHECK = """
[melody]
name = "check"

[params]
word = { default = "hello", type = "string" }

[[steps]]
id = "greet"
uses = "shell.run"
with = { command = "echo ${params.word}" }

[[steps]]
id = "shout"
uses = "shell.run"
with = { command = "echo '${steps.greet.outputs.stdout}' | tr a-z A-Z" }

[[steps]]
id = "fail"
uses = "shell.run"
needs = ["shout"]
when = "params.word == 'boom'"
with = { command = "exit 7" }
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    (ws / ".symphony" / "melodies").mkdir(parents=True)
    (ws / ".symphony" / "melodies" / "check.toml").write_text(textwrap.dedent(CHECK))
    return ws


def test_run_json_lines_and_exit_codes(workspace: Path) -> None:
    ok = symphony("run", "check", "--json", cwd=workspace)
    assert ok.returncode == 0, ok.stderr
    events = [json.loads(line) for line in ok.stdout.splitlines()]
    assert events[0]["event"] == "RunStarted"
    assert events[0]["steps"] == ["greet", "shout", "fail"]
    assert events[-1]["event"] == "RunFinished"
    assert events[-1]["state"] == "completed"
    finals = {
        e["step_id"]: e["state"]
        for e in events
        if e["event"] == "StepStateChanged" and e["state"] not in ("queued", "running")
    }
    assert finals == {"greet": "completed", "shout": "completed", "fail": "skipped"}
    assert ok.stderr == ""  # --json: stdout is the only channel
    failed = symphony("run", "check", "-p", "word=boom", cwd=workspace)
    assert failed.returncode == 1
    assert "✗ fail" in failed.stdout
    assert "step fail failed" in failed.stderr
    assert "exited with status 7" in failed.stderr


def test_usage_errors_exit_2(workspace: Path) -> None:
    missing = symphony("run", "nope", cwd=workspace)
    assert missing.returncode == 2
    assert "check" in missing.stderr  # lists the melodies there are
    neither = symphony("run", cwd=workspace)
    assert neither.returncode == 2
    both = symphony("run", "check", "--resume", "x", cwd=workspace)
    assert both.returncode == 2
    bad_param = symphony("run", "check", "-p", "nope=1", cwd=workspace)
    assert bad_param.returncode == 2
    assert "'nope' is given but not declared" in bad_param.stderr
    (workspace / ".symphony" / "melodies" / "bad.toml").write_text(
        '[melody]\nname = "bad"\n\n[[steps]]\nid = "a"\nuses = "shell.rnu"\n'
    )
    invalid = symphony("run", "bad", cwd=workspace)
    assert invalid.returncode == 2
    assert "unknown step type 'shell.rnu'; did you mean 'shell.run'?" in invalid.stderr
    validated = symphony("melody", "validate", "bad", "--json", cwd=workspace)
    assert validated.returncode == 2
    assert json.loads(validated.stdout)["errors"][0]["location"] == "steps[0] (a).uses"
    assert symphony("melody", "validate", "check", cwd=workspace).returncode == 0


def test_runs_list_and_show(workspace: Path) -> None:
    symphony("run", "check", cwd=workspace)
    second = symphony("run", "check", "--json", cwd=workspace)
    run_id = json.loads(second.stdout.splitlines()[0])["run_id"]
    listed = json.loads(symphony("runs", "list", "--json", cwd=workspace).stdout)
    assert listed[0]["id"] == run_id
    assert listed[0]["state"] == "completed"
    shown = symphony("runs", "show", run_id[:8], cwd=workspace)
    assert shown.returncode == 0, shown.stderr
    assert f"run {run_id}" in shown.stdout
    assert "shout" in shown.stdout and "decisions:" in shown.stdout
    data = json.loads(symphony("runs", "show", run_id, "--json", cwd=workspace).stdout)
    greet = next(s for s in data["steps"] if s["id"] == "greet")
    assert greet["outputs"]["stdout"] == "hello\n"
    assert greet["artifact"]
    art = symphony("artifacts", "get", greet["artifact"], cwd=workspace)
    assert json.loads(art.stdout)["stdout"] == "hello\n"
    assert symphony("runs", "show", "zzzz", cwd=workspace).returncode == 2


def _run_json(workspace: Path, melody: str) -> tuple[subprocess.Popen[str], str]:
    """``symphony run MELODY --json`` in the background, and its run id (its first line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "symphony_cli", "run", melody, "--json"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["run_id"]


def test_runs_cancel_stops_a_running_run(workspace: Path) -> None:
    (workspace / ".symphony" / "melodies" / "slow.toml").write_text(
        '[melody]\nname = "slow"\n\n[[steps]]\nid = "wait"\nuses = "shell.run"\n'
        'with = { command = "sleep 30" }\n'
    )
    proc, run_id = _run_json(workspace, "slow")
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if '"running"' in line:
            break
    cancel = symphony("runs", "cancel", run_id, cwd=workspace)
    assert cancel.returncode == 0, cancel.stderr
    assert f"run {run_id}: cancelled" in cancel.stderr
    _out, _err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert symphony("runs", "cancel", run_id, cwd=workspace).returncode == 2


def test_ctrl_c_cancels_and_the_run_can_be_resumed(workspace: Path) -> None:
    (workspace / ".symphony" / "melodies" / "two.toml").write_text(
        '[melody]\nname = "two"\n\n[[steps]]\nid = "first"\nuses = "shell.run"\n'
        'with = { command = "echo one >> log" }\n\n[[steps]]\nid = "second"\nuses = "shell.run"\n'
        'needs = ["first"]\nwith = { command = "[ -f go ] || sleep 30; echo two >> log" }\n'
    )
    proc, run_id = _run_json(workspace, "two")
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if '"second"' in line and '"running"' in line:
            break
    proc.send_signal(signal.SIGINT)
    _out, _err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    (workspace / "go").write_text("")
    resumed = symphony("run", "--resume", run_id, cwd=workspace)
    assert resumed.returncode == 0, resumed.stderr
    assert (workspace / "log").read_text().split() == ["one", "two"]


def _alive(marker: str) -> list[str]:
    """Command lines of processes that carry ``marker`` (steps left running)."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in ps.stdout.splitlines() if marker in line and "ps -eo" not in line]


def test_sighup_cancels_the_run_and_stops_its_steps(workspace: Path) -> None:
    """Closing the terminal sends SIGHUP to Symphony only (steps run in sessions of their
    own): the run is cancelled like with Ctrl-C, and no step outlives it."""
    marker = f"hup-marker-{time.monotonic_ns()}"
    (workspace / ".symphony" / "melodies" / "long.toml").write_text(
        '[melody]\nname = "long"\n\n[[steps]]\nid = "wait"\nuses = "shell.run"\n'
        f'with = {{ command = "sleep 300 # {marker}" }}\n'
    )
    proc, run_id = _run_json(workspace, "long")
    deadline = time.monotonic() + 20
    while not _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert _alive(marker) == []
    shown = symphony("runs", "show", run_id, "--json", cwd=workspace)
    assert json.loads(shown.stdout)["state"] == "cancelled"


def test_ctrl_c_at_the_recovery_prompt_aborts_and_stops_the_other_steps(
    workspace: Path,
) -> None:
    """On a terminal a failed step asks retry/skip/abort on the run's thread; Ctrl-C there
    must cancel the run (it used to be ignored while the prompt waited for a line)."""
    marker = f"prompt-marker-{time.monotonic_ns()}"
    (workspace / ".symphony" / "melodies" / "fails.toml").write_text(
        '[melody]\nname = "fails"\n\n[[steps]]\nid = "bad"\nuses = "shell.run"\n'
        'with = { command = "exit 3" }\n\n[[steps]]\nid = "long"\nuses = "shell.run"\n'
        f'with = {{ command = "sleep 300 # {marker}" }}\n'
    )
    cli = PtyCli(workspace, "run", "fails")
    try:
        cli.read_until("[a]bort?")
        assert _alive(marker)
        cli.type("\x03")  # Ctrl-C typed on the terminal
        status = cli.wait()
        left = _alive(marker)
    finally:
        cli.close()
        subprocess.run(["pkill", "-f", marker], check=False)  # what a failure would leave
    assert status == 130, cli.seen
    assert left == []
