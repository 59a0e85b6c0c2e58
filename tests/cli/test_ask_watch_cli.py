"""``symphony ask`` and ``symphony watch`` as a user runs them: real subprocesses, a real project,
the real built-in extensions (pytest, ruff, shell), real file-system events."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.cli.test_cli import symphony
from tests.support.pty_cli import PtyCli

CALC = "def add(a, b):\n    return a + b\n"
PASSING = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
FAILING = PASSING + "\n\ndef test_add_floats():\n    assert add(0.5, 0.25) == 1\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    (ws / "src").mkdir(parents=True)
    (ws / "tests").mkdir()
    (ws / "src" / "calc.py").write_text(CALC)
    (ws / "tests" / "test_calc.py").write_text(PASSING)
    (ws / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["src"]\n')
    return ws


# --- ask -----------------------------------------------------------------------------------


def test_ask_runs_tests_and_lint_that_pass(project: Path) -> None:
    result = symphony("ask", "run the tests and lint", "--yes", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "lint: no lint issues found" in result.stdout
    assert "test: 1 passed" in result.stdout
    # The plan is narration (stderr); the report is the data (stdout).
    assert "plan for 'run the tests and lint':" in result.stderr
    assert "ruff.check" in result.stderr and "pytest.run" in result.stderr
    assert (project / ".symphony" / "runs.db").exists()


def test_ask_reports_the_failing_test_and_exits_1(project: Path) -> None:
    (project / "tests" / "test_calc.py").write_text(FAILING)
    result = symphony("ask", "run the tests and lint", "--yes", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "test: 1 failed, 1 passed" in result.stdout
    assert "FAILED tests/test_calc.py::test_add_floats - assert 0.75 == 1" in result.stdout
    assert "test_add " not in result.stdout  # passing tests are not listed
    assert "problems: test: 1 failed" in result.stderr


def test_ask_lint_issues_exit_1_and_fix_repairs_them(project: Path) -> None:
    (project / "src" / "calc.py").write_text("import os\n" + CALC)
    result = symphony("ask", "lint src", "-y", cwd=project)
    assert result.returncode == 1
    # The count depends on ruff's default rules (I001 as well in newer versions).
    assert re.search(r"^lint: \d+ lint issues? found, \d+ fixable with `fix`$", result.stdout, re.M)
    assert "src/calc.py:1:8: F401" in result.stdout
    assert "problems: lint: " in result.stderr
    fixed = symphony("ask", "fix lint errors in src", "-y", cwd=project)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fix: no lint issues left after fixing" in fixed.stdout
    assert (project / "src" / "calc.py").read_text() == CALC


def test_ask_json_is_events_then_a_report(project: Path) -> None:
    (project / "tests" / "test_calc.py").write_text(FAILING)
    result = symphony("ask", "run the tests", "--yes", "--json", cwd=project)
    assert result.returncode == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "AskPlan" and kinds[-1] == "AskReport"
    assert {"RunStarted", "StepStateChanged", "RunFinished"} <= set(kinds)
    report = events[-1]
    assert report["state"] == "completed"
    assert [s["uses"] for s in report["plan"]["steps"]] == ["pytest.run"]
    failures = report["outputs"]["test"]["failures"]
    assert [f["nodeid"] for f in failures] == ["tests/test_calc.py::test_add_floats"]
    assert report["problems"] == [f"test: {report['outputs']['test']['summary']}"]


def test_ask_dry_run_runs_nothing(project: Path) -> None:
    result = symphony("ask", "fix, lint and test src", "--dry-run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("plan for 'fix, lint and test src':")
    assert '"fix": true' in result.stdout and "after fix, lint" in result.stdout
    assert not (project / ".symphony" / "runs.db").exists()
    data = json.loads(symphony("ask", "lint", "--dry-run", "--json", cwd=project).stdout)
    assert data["event"] == "AskPlan"
    assert data["plan"]["steps"] == [
        {"id": "lint", "uses": "ruff.check", "with": {"paths": ["."]}, "needs": []}
    ]
    assert not (project / ".symphony").exists()


def test_ask_search_reports_matches(project: Path) -> None:
    result = symphony("ask", "search for 'a + b'", "-y", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "grep: 1 matching lines" in result.stdout
    assert "./src/calc.py:2:    return a + b" in result.stdout


def test_ask_unknown_request_exits_2_and_says_what_it_understands(project: Path) -> None:
    result = symphony("ask", "make me a sandwich", cwd=project)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "did not understand 'make me a sandwich'" in result.stderr
    for intent in ("test (", "lint (", "search (", "review ("):
        assert intent in result.stderr
    assert not (project / ".symphony").exists()


def test_ask_explain_without_a_model_exits_2(project: Path) -> None:
    result = symphony("ask", "explain src/calc.py", "--yes", cwd=project)
    assert result.returncode == 2
    assert "explain needs an AI model; none is configured" in result.stderr
    assert "aide.models" in result.stderr


# --- watch ---------------------------------------------------------------------------------

WATCHED = """\
[melody]
name = "build"

[[steps]]
id = "log"
uses = "shell.run"
with = { command = "echo run >> out/log.txt" }

[triggers]
files = ["src/**"]
"""


class Watch:
    """``symphony watch`` in the background, its output in files (no pipe to fill up)."""

    def __init__(self, ws: Path, *args: str) -> None:
        self.ws = ws
        self._out: IO[Any] = (ws.parent / "watch.out").open("w+")
        self._err: IO[Any] = (ws.parent / "watch.err").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "symphony_cli", "watch", *args],
            cwd=ws,
            stdout=self._out,
            stderr=self._err,
            text=True,
        )

    def stderr(self) -> str:
        return (self.ws.parent / "watch.err").read_text()

    def runs(self) -> int:
        log = self.ws / "out" / "log.txt"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def wait_for(self, what: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, f"timed out; stderr:\n{self.stderr()}"
            time.sleep(0.05)

    def stays(self, what: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert what(), self.stderr()
            time.sleep(0.05)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self._out.close()
            self._err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for folder in ("src", "out", ".symphony/melodies"):
        (ws / folder).mkdir(parents=True)
    (ws / "src" / "a.py").write_text("x = 1\n")
    (ws / "notes.txt").write_text("notes\n")
    (ws / ".symphony" / "melodies" / "build.toml").write_text(WATCHED)
    return ws


def test_watch_reruns_on_matching_changes_only(watched: Path) -> None:
    w = Watch(watched, "build", "--debounce-ms", "200")
    try:
        w.wait_for(lambda: w.runs() == 1)  # the first run happens at once
        assert "watching 1 glob in" in w.stderr() and "src/**" in w.stderr()
        assert "Ctrl-C to stop" in w.stderr()
        # Two saves in quick succession: one run.
        (watched / "src" / "a.py").write_text("x = 2\n")
        (watched / "src" / "a.py").write_text("x = 3\n")
        w.wait_for(lambda: w.runs() == 2)
        # A file outside the trigger globs (and the run's own out/log.txt): no run. Then a
        # matching change runs once, naming only itself.
        (watched / "notes.txt").write_text("more notes\n")
        w.stays(lambda: w.runs() == 2, 1.0)
        (watched / "src" / "b.py").write_text("y = 1\n")
        w.wait_for(lambda: w.runs() == 3)
        w.stays(lambda: w.runs() == 3, 1.0)
        code = w.interrupt()
    finally:
        w.kill()
    assert code == 0, w.stderr()
    changes = [ln for ln in w.stderr().splitlines() if ln.startswith("change:")]
    assert changes == ["change: src/a.py", "change: src/b.py"]
    assert "stopped watching" in w.stderr()


def test_watch_without_triggers_follows_gitignore(watched: Path) -> None:
    melody = watched / ".symphony" / "melodies" / "build.toml"
    melody.write_text(WATCHED.replace('[triggers]\nfiles = ["src/**"]\n', ""))
    (watched / ".gitignore").write_text("out/\n*.log\n")
    w = Watch(watched, "build", "--debounce-ms", "100")
    try:
        w.wait_for(lambda: w.runs() == 1)
        assert "build has no triggers.files; watching every file .gitignore does not ignore" in (
            w.stderr()
        )
        (watched / "debug.log").write_text("ignored\n")
        w.stays(lambda: w.runs() == 1, 1.0)  # and out/log.txt, written by the run, is ignored
        (watched / "notes.txt").write_text("changed\n")
        w.wait_for(lambda: w.runs() == 2)
        w.stays(lambda: w.runs() == 2, 0.5)
        code = w.interrupt()
    finally:
        w.kill()
    assert code == 0
    assert [ln for ln in w.stderr().splitlines() if ln.startswith("change:")] == [
        "change: notes.txt"
    ]


def test_ctrl_c_cancels_a_run_in_progress_and_exits_0(watched: Path) -> None:
    melody = watched / ".symphony" / "melodies" / "build.toml"
    melody.write_text(
        WATCHED.replace("echo run >> out/log.txt", "echo run >> out/log.txt; sleep 30")
    )
    w = Watch(watched, "build")
    try:
        w.wait_for(lambda: w.runs() == 1)  # the step is now sleeping
        started = time.monotonic()
        code = w.interrupt()
    finally:
        w.kill()
    assert code == 0, w.stderr()
    assert time.monotonic() - started < 10
    assert "cancelled" in w.stderr() + (watched.parent / "watch.out").read_text()
    runs = json.loads(symphony("runs", "list", "--json", cwd=watched).stdout)
    assert [r["state"] for r in runs] == ["cancelled"]


def test_an_edit_of_the_melody_runs_it_again(watched: Path) -> None:
    melody = watched / ".symphony" / "melodies" / "build.toml"
    w = Watch(watched, "build", "--debounce-ms", "100")
    try:
        w.wait_for(lambda: w.runs() == 1)
        melody.write_text(WATCHED.replace("echo run", "echo edited"))
        w.wait_for(lambda: w.runs() == 2)
        # A broken edit is reported; the watch goes on and runs the next good version.
        melody.write_text(WATCHED.replace("shell.run", "shell.rnu"))
        w.wait_for(lambda: "still watching" in w.stderr())
        melody.write_text(WATCHED)
        w.wait_for(lambda: w.runs() == 3)
        code = w.interrupt()
    finally:
        w.kill()
    assert code == 0
    assert (watched / "out" / "log.txt").read_text().splitlines() == ["run", "edited", "run"]
    assert "shell.rnu" in w.stderr()


def test_watch_refuses_a_melody_that_cannot_run(watched: Path) -> None:
    result = symphony("watch", "nope", cwd=watched)
    assert result.returncode == 2
    assert "nope" in result.stderr
    melody = watched / ".symphony" / "melodies" / "build.toml"
    melody.write_text(WATCHED.replace("shell.run", "shell.rnu"))
    result = symphony("watch", "build", cwd=watched)
    assert result.returncode == 2
    assert "shell.rnu" in result.stderr
    assert not (watched / "out" / "log.txt").exists()


def test_watch_also_runs_on_its_schedule(watched: Path) -> None:
    melody_file = watched / ".symphony" / "melodies" / "build.toml"
    melody_file.write_text(WATCHED + "every_s = 0.3\n")
    w = Watch(watched, "build")
    try:
        w.wait_for(lambda: w.runs() >= 3)  # the first run, then the schedule's
        assert "every 0.3 s" in w.stderr()
        assert w.interrupt() == 0
    finally:
        w.kill()


def test_watch_runs_the_melodies_that_come_after(watched: Path) -> None:
    melodies = watched / ".symphony" / "melodies"
    (melodies / "deploy.toml").write_text(
        '[melody]\nname = "deploy"\n\n[[steps]]\nid = "d"\nuses = "shell.run"\n'
        'with = { command = "echo deploy >> out/log.txt" }\n\n[triggers]\nafter = ["build"]\n'
    )
    (melodies / "loop.toml").write_text(  # names deploy, which names build: no endless chain
        '[melody]\nname = "loop"\n\n[[steps]]\nid = "l"\nuses = "shell.run"\n'
        'with = { command = "echo loop >> out/log.txt" }\n\n[triggers]\nafter = ["deploy"]\n'
    )
    w = Watch(watched, "build")
    try:
        log = watched / "out" / "log.txt"
        w.wait_for(lambda: log.exists() and len(log.read_text().split()) >= 3)
        w.stays(lambda: log.read_text().split() == ["run", "deploy", "loop"], 0.8)
        assert "after build: deploy" in w.stderr()
        assert w.interrupt() == 0
    finally:
        w.kill()


def test_ctrl_c_stops_the_watch_also_when_the_run_finishes_before_it_is_cancelled(
    watched: Path,
) -> None:
    """The race CI met: Ctrl-C arrives as the run ends, so the run completes — the watch must
    stop all the same rather than go on running (and ignore the user). Real engine, runner and
    run; only the moment of the Ctrl-C is forced: right after the run finished its work."""
    import os

    from engine.runs.service import Runner
    from engine.runtime import Engine
    from symphony_cli.watch_cmd import _run_once

    engine = Engine(watched, watch_config=False)
    engine.start()
    runner = Runner(engine)
    new_run = runner.new_run

    def late_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        job = new_run(*args, **kwargs)
        execute = job.execute

        def execute_then_interrupt(cancel: Any = None) -> Any:
            summary = execute(cancel)
            os.kill(os.getpid(), signal.SIGINT)  # the main thread is waiting for the run
            time.sleep(0.5)  # it handles the Ctrl-C before it learns the run is done
            return summary

        job.execute = execute_then_interrupt
        return job

    runner.new_run = late_ctrl_c  # type: ignore[method-assign]
    try:
        assert _run_once(runner, "build", [], threading.Event()) is False
    finally:
        runner.close()
        engine.stop()
    assert (watched / "out" / "log.txt").read_text() == "run\n"  # the run itself completed


def test_ctrl_c_at_the_plan_prompt_exits_130_and_runs_nothing(project: Path) -> None:
    cli = PtyCli(project, "ask", "run the tests")
    try:
        cli.read_until("Run this plan?")
        cli.type("\x03")  # Ctrl-C typed on the terminal
        status = cli.wait()
    finally:
        cli.close()
    assert status == 130, cli.seen
    assert "interrupted at the prompt; nothing was run" in cli.seen
    listed = symphony("runs", "list", "--json", cwd=project)
    assert json.loads(listed.stdout) == []


def test_a_stop_asked_between_runs_starts_no_other(watched: Path) -> None:
    """SIGTERM/SIGHUP between two runs (a follower's, a scheduled one) sets the watch's stop:
    the next run does not start."""
    from engine.runs.service import Runner
    from engine.runtime import Engine
    from symphony_cli.watch_cmd import _run_once

    engine = Engine(watched, watch_config=False)
    engine.start()
    runner = Runner(engine)
    stop = threading.Event()
    try:
        assert _run_once(runner, "build", [], stop) is True
        stop.set()
        assert _run_once(runner, "build", [], stop) is False
    finally:
        runner.close()
        engine.stop()
    assert (watched / "out" / "log.txt").read_text() == "run\n"
