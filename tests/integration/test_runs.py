"""Melody runs end to end: a real engine, real extensions, real processes, a real run store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from engine.runs.messages import StepStateChanged
from engine.runs.service import Runner
from engine.runs.states import RunState
from engine.runtime import Engine
from engine.types.errors import UsageError
from tests.ext_support import echo_step, write_extension

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from engine.types.messages import Event


def melody(ws: Path, name: str, text: str) -> None:
    folder = ws / ".symphony" / "melodies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "out").mkdir()
    (root / "src" / "a.txt").write_text("alpha\n", encoding="utf-8")
    (root / "src" / "b.txt").write_text("beta\n", encoding="utf-8")
    return root


class Harness:
    def __init__(self, ws: Path, overrides: tuple[str, ...] = ()) -> None:
        self.engine = Engine(ws, watch_config=False, overrides=overrides)
        self.engine.start()
        self.runner = Runner(self.engine)
        self.events: list[Event] = []
        self.runner.listeners.append(self.events.append)

    def run(self, target: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        job = self.runner.new_run(target, params or {}, **kw)
        return job.execute()

    def states(self, summary: Any) -> dict[str, str]:
        return {s.step_id: s.state.value for s in summary.steps}

    def close(self) -> None:
        self.runner.close()
        self.engine.stop()


@pytest.fixture
def h(ws: Path) -> Iterator[Harness]:
    harness = Harness(ws)
    yield harness
    harness.close()


def log_lines(ws: Path, name: str = "log.txt") -> list[str]:
    path = ws / "out" / name
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


CHAIN = """
[melody]
name = "chain"

[[steps]]
id = "read_a"
uses = "fs.read"
with = { path = "src/a.txt" }

[[steps]]
id = "read_b"
uses = "fs.read"
with = { path = "src/b.txt" }

[[steps]]
id = "join"
uses = "shell.run"
with = { command = "printf %s '${steps.read_a.outputs.content}' >> out/log.txt" }
cache = true
files = ["src/a.txt"]
"""


def test_cached_rerun_and_only_affected_steps_run_after_an_edit(ws: Path, h: Harness) -> None:
    melody(ws, "chain", CHAIN)
    first = h.run("chain")
    assert first.state is RunState.COMPLETED
    assert h.states(first) == {"read_a": "completed", "read_b": "completed", "join": "completed"}
    second = h.run("chain")
    assert h.states(second) == {"read_a": "cached", "read_b": "cached", "join": "cached"}
    assert log_lines(ws) == ["alpha"]  # the cached step did not execute
    time.sleep(0.01)
    (ws / "src" / "a.txt").write_text("ALPHA\n", encoding="utf-8")
    third = h.run("chain")
    assert h.states(third) == {"read_a": "completed", "read_b": "cached", "join": "completed"}
    assert log_lines(ws) == ["alpha", "ALPHA"]
    # every output is an artifact with lineage to its inputs
    row = next(s for s in third.steps if s.step_id == "join")
    info = h.engine.pit.store().info(row.artifact)
    read_a = next(s for s in third.steps if s.step_id == "read_a").artifact
    assert read_a in info.inputs
    assert info.producers[0].run == third.run_id


def test_parallel_steps_respect_the_concurrency_limit(ws: Path) -> None:
    steps = "".join(
        f"""
[[steps]]
id = "s{i}"
uses = "shell.run"
with = {{ command = "sleep 0.3" }}
"""
        for i in range(4)
    )
    melody(ws, "par", '[melody]\nname = "par"\n' + steps)
    harness = Harness(ws, overrides=("core.concurrency=2",))
    try:
        t0 = time.monotonic()
        summary = harness.run("par")
        took = time.monotonic() - t0
    finally:
        harness.close()
    assert summary.state is RunState.COMPLETED
    running_at_once = 0
    current = 0
    for e in harness.events:
        if isinstance(e, StepStateChanged) and e.state == "running":
            current += 1
            running_at_once = max(running_at_once, current)
        elif isinstance(e, StepStateChanged) and e.state == "completed":
            current -= 1
    assert running_at_once == 2
    assert 0.55 < took < 3.0  # two waves of two, not four at once and not one by one


def test_retries_with_backoff_then_success(ws: Path, h: Harness) -> None:
    melody(
        ws,
        "flaky",
        """
        [melody]
        name = "flaky"

        [[steps]]
        id = "flaky"
        uses = "shell.run"
        with = { command = "echo x >> out/tries; [ $(wc -l < out/tries) -ge 3 ]" }
        retry = { attempts = 3, backoff = "exponential", initial_s = 0.05 }
        """,
    )
    summary = h.run("flaky")
    assert summary.state is RunState.COMPLETED
    assert summary.steps[0].attempts == 3
    decisions = h.runner.store.decisions(summary.run_id)
    retries = [d for d in decisions if d.kind == "retry"]
    assert [d.choice for d in retries] == ["attempt 2 of 3", "attempt 3 of 3"]
    assert "retrying in 0.05 s" in retries[0].rationale
    assert "retrying in 0.1 s" in retries[1].rationale


SPEC_EXAMPLE = """
[melody]
name = "check"

[[steps]]
id = "lint"
uses = "shell.run"
with = { command = "true" }

[[steps]]
id = "test"
uses = "shell.run"
with = { command = "exit 1" }

[[steps]]
id = "explain"
uses = "shell.run"
needs = ["lint", "test"]
when = "steps.test.status == 'failed'"
optional = true
with = { command = "echo explaining >> out/log.txt" }

[[steps]]
id = "after_test"
uses = "shell.run"
needs = ["test"]
with = { command = "echo never >> out/log.txt" }

[[steps]]
id = "only_if_ok"
uses = "shell.run"
needs = ["lint"]
when = "steps.lint.status == 'failed'"
with = { command = "echo never >> out/log.txt" }
"""


def test_conditions_optional_steps_and_skips(ws: Path, h: Harness) -> None:
    melody(ws, "check", SPEC_EXAMPLE)
    summary = h.run("check")
    states = h.states(summary)
    assert states == {
        "lint": "completed",
        "test": "failed",
        "explain": "completed",  # `when` lets it run after a failure
        "after_test": "skipped",  # no `when`: a failed dependency skips it
        "only_if_ok": "skipped",  # condition false
    }
    assert summary.state is RunState.FAILED  # test is not optional
    assert log_lines(ws) == ["explaining"]
    skipped = next(s for s in summary.steps if s.step_id == "after_test")
    assert skipped.error == "test failed"


def test_cancel_stops_running_processes_and_cancels_the_rest(ws: Path, h: Harness) -> None:
    melody(
        ws,
        "slow",
        """
        [melody]
        name = "slow"

        [[steps]]
        id = "sleep"
        uses = "shell.run"
        with = { command = "sleep 30 & echo $! > out/pid; wait" }

        [[steps]]
        id = "later"
        uses = "shell.run"
        needs = ["sleep"]
        with = { command = "true" }
        """,
    )
    job = h.runner.new_run("slow", {})
    cancel = threading.Event()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(s=job.execute(cancel)))
    worker.start()
    pid_file = ws / "out" / "pid"
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(pid_file.read_text())
    t0 = time.monotonic()
    cancel.set()
    worker.join(15)
    assert time.monotonic() - t0 < 5
    summary = result["s"]
    assert summary.state is RunState.CANCELLED
    assert h.states(summary) == {"sleep": "cancelled", "later": "cancelled"}
    assert h.runner.store.run(summary.run_id).state is RunState.CANCELLED
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    from engine.runs.service import pid_alive

    return pid_alive(pid)


RESUMABLE = """
[melody]
name = "resumable"

[[steps]]
id = "fast"
uses = "shell.run"
with = { command = "echo fast >> out/log.txt" }

[[steps]]
id = "slow"
uses = "shell.run"
needs = ["fast"]
[steps.with]
command = "echo slow-start >> out/log.txt; [ -f out/go ] || sleep 30; echo slow-end >> out/log.txt"

[[steps]]
id = "last"
uses = "shell.run"
needs = ["slow"]
with = { command = "echo last >> out/log.txt" }
"""


def _symphony(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "symphony_cli", *args],
        cwd=ws,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _step_state(ws: Path, step_id: str) -> str | None:
    """The step's state in runs.db as another process sees it (None before it is there)."""
    import sqlite3

    db = ws / ".symphony" / "runs.db"
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT state FROM steps WHERE step_id = ?", (step_id,)).fetchone()
    except sqlite3.OperationalError:  # the tables are being created
        return None
    finally:
        con.close()
    return None if row is None else str(row[0])


def test_kill_9_then_resume_finishes_without_redoing_completed_steps(ws: Path) -> None:
    melody(ws, "resumable", RESUMABLE)
    proc = _symphony(ws, "run", "resumable", "--json")
    deadline = time.monotonic() + 20
    while "slow-start" not in log_lines(ws) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "slow-start" in log_lines(ws)
    # the coordinator records "fast: completed" within 0.1 s; wait until runs.db has it
    while _step_state(ws, "fast") != "completed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _step_state(ws, "fast") == "completed"
    os.killpg(proc.pid, signal.SIGKILL)
    stdout, _stderr = proc.communicate(timeout=10)
    first = [json.loads(line) for line in stdout.splitlines()]
    run_id = first[0]["run_id"]
    (ws / "out" / "go").write_text("")
    listed = subprocess.run(
        [sys.executable, "-m", "symphony_cli", "runs", "list", "--json"],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(listed.stdout)[0]["state"] == "crashed"
    resumed = subprocess.run(
        [sys.executable, "-m", "symphony_cli", "run", "--resume", run_id],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert log_lines(ws) == ["fast", "slow-start", "slow-start", "slow-end", "last"]
    again = subprocess.run(
        [sys.executable, "-m", "symphony_cli", "run", "--resume", run_id],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "nothing to resume" in again.stderr


def test_from_step_reruns_it_and_downstream_reusing_upstream(ws: Path, h: Harness) -> None:
    (ws / "out" / "go").write_text("")
    melody(ws, "resumable", RESUMABLE)
    first = h.run("resumable")
    assert first.state is RunState.COMPLETED
    again = h.run("resumable", from_step="slow")
    assert h.states(again) == {"fast": "cached", "slow": "completed", "last": "completed"}
    assert log_lines(ws) == [
        "fast",
        "slow-start",
        "slow-end",
        "last",
        "slow-start",
        "slow-end",
        "last",
    ]
    row = h.runner.store.run(again.run_id)
    assert (row.parent, row.from_step) == (first.run_id, "slow")
    reuse = [d for d in h.runner.store.decisions(again.run_id) if d.kind == "reuse"]
    assert [d.step_id for d in reuse] == ["fast"]
    with pytest.raises(UsageError, match="no such step"):
        h.run("resumable", from_step="nope")


def test_cache_key_covers_inputs_and_extension_version(ws: Path, h: Harness) -> None:
    melody(
        ws,
        "read",
        """
        [melody]
        name = "read"

        [params]
        file = { default = "src/a.txt" }

        [[steps]]
        id = "read"
        uses = "fs.read"
        with = { path = "${params.file}" }
        """,
    )
    assert h.states(h.run("read")) == {"read": "completed"}
    assert h.states(h.run("read")) == {"read": "cached"}
    assert h.states(h.run("read", {"file": "src/b.txt"})) == {"read": "completed"}
    assert h.states(h.run("read", {"file": "src/b.txt"})) == {"read": "cached"}
    job = h.runner.new_run("read", {})
    job.versions = {**job.versions, "symphony.fs": "9.9.9"}  # an upgraded extension
    assert h.states(job.execute()) == {"read": "completed"}
    assert h.states(h.run("read", force=True)) == {"read": "completed"}


def test_fallback_to_another_provider_and_outcomes_persist(ws: Path, tmp_path: Path) -> None:
    exts = tmp_path / "exts"
    broken = """
class Ext(Operator):
    @step("acme.greet")
    def run(self, ctx, inputs):
        raise RuntimeError("backend down")
"""
    working = """
class Ext(Operator):
    @step("acme.greet")
    def run(self, ctx, inputs):
        return {"text": "hello " + inputs["text"]}
"""
    write_extension(exts, "aa.broken", broken, steps=echo_step("acme.greet"))
    write_extension(exts, "zz.working", working, steps=echo_step("acme.greet"))
    melody(
        ws,
        "greet",
        """
        [melody]
        name = "greet"

        [[steps]]
        id = "greet"
        uses = "acme.greet"
        with = { text = "world" }
        cache = false
        """,
    )
    harness = Harness(ws, overrides=(f"extensions.dirs=[{json.dumps(str(exts))}]",))
    try:
        from engine.conductor.policy import Ranking

        class Alphabetical:
            """An external policy, plugged in through the policy interface."""

            def rank(self, capability: str, candidates: Any, outcomes: Any) -> Ranking:
                return Ranking(tuple(sorted(candidates)), "alphabetical, for the test")

        harness.runner.conductor.policy = Alphabetical()
        summaries = [harness.run("greet") for _ in range(5)]
        assert all(s.state is RunState.COMPLETED for s in summaries)
        assert all(s.steps[0].outputs == {"text": "hello world"} for s in summaries)
        assert all(s.steps[0].extension == "zz.working" for s in summaries)
        decisions = [harness.runner.store.decisions(s.run_id) for s in summaries]
        kinds = [[d.kind for d in ds] for ds in decisions]
        # three failures in a row make aa.broken unstable: no more fallbacks after that
        assert kinds[:3] == [["provider", "fallback"]] * 3
        assert kinds[3:] == [["provider"]] * 2
        assert "backend down" in decisions[0][1].rationale
        assert decisions[3][0].choice == "zz.working"
        assert "unstable this session: aa.broken" in decisions[3][0].rationale
        outcomes = harness.runner.store.outcomes("acme.greet")
        assert (outcomes["zz.working"].successes, outcomes["aa.broken"].failures) == (5, 3)
    finally:
        harness.close()
    # outcomes survive the session: the next engine's policy sees them
    later = Harness(ws, overrides=(f"extensions.dirs=[{json.dumps(str(exts))}]",))
    try:
        assert later.runner.store.outcomes("acme.greet")["zz.working"].successes == 5
    finally:
        later.close()


def test_bad_params_and_invalid_melodies_are_usage_errors(ws: Path, h: Harness) -> None:
    from engine.melody.errors import MelodyErrors

    melody(ws, "chain", CHAIN)
    with pytest.raises(MelodyErrors, match="parameter 'nope' is given but not declared"):
        h.run("chain", {"nope": 1})
    melody(
        ws,
        "bad",
        """
        [melody]
        name = "bad"

        [[steps]]
        id = "x"
        uses = "shell.rnu"
        """,
    )
    with pytest.raises(MelodyErrors, match=r"unknown step type 'shell\.rnu'"):
        h.run("bad")
    assert not h.runner.store.runs(melody="bad")


FLAKY_ONCE = """
[melody]
name = "once"

[[steps]]
id = "flaky"
uses = "shell.run"
with = { command = "echo x >> out/tries; [ $(wc -l < out/tries) -ge 2 ]" }

[[steps]]
id = "after"
uses = "shell.run"
needs = ["flaky"]
with = { command = "echo after >> out/log.txt" }
"""


@pytest.mark.parametrize(
    ("answer", "run_state", "states"),
    [
        ("retry", RunState.COMPLETED, {"flaky": "completed", "after": "completed"}),
        ("skip", RunState.COMPLETED, {"flaky": "failed", "after": "skipped"}),
        ("abort", RunState.CANCELLED, {"flaky": "failed", "after": "cancelled"}),
    ],
)
def test_recovery_asks_retry_skip_or_abort(
    ws: Path, h: Harness, answer: str, run_state: RunState, states: dict[str, str]
) -> None:
    melody(ws, "once", FLAKY_ONCE)
    job = h.runner.new_run("once", {})
    asked: list[tuple[str, str]] = []
    job.on_failure = lambda sid, error: asked.append((sid, error)) or answer  # type: ignore[func-returns-value]
    summary = job.execute()
    assert [sid for sid, _ in asked] == ["flaky"]
    assert "exited with status 1" in asked[0][1]
    assert summary.state is run_state
    assert h.states(summary) == states
    recovery = [d for d in h.runner.store.decisions(summary.run_id) if d.kind == "recovery"]
    assert [d.choice for d in recovery] == [answer]


def test_the_cli_asks_on_a_terminal(ws: Path) -> None:
    """`symphony run` in a real PTY: the failed step is offered for retry, `r` retries it."""
    from engine.terminal.session import PtySession

    melody(ws, "once", FLAKY_ONCE)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    argv = [sys.executable, "-m", "symphony_cli", "run", "once"]
    with PtySession(argv, cwd=ws, env=env, cols=100, rows=30) as session:
        deadline = time.monotonic() + 30
        while "[r]etry" not in "\n".join(session.text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "step flaky failed" in "\n".join(session.text())
        session.write("r\r")
        status = session.wait(30)
        screen = "\n".join(session.text())
    assert status == 0, screen
    assert "completed" in screen
    assert log_lines(ws) == ["after"]


def test_a_step_that_changes_what_it_reads_is_not_cached(ws: Path, h: Harness) -> None:
    """ruff --fix rewrites its input: its result is not stored, so reverting the file
    makes the next run fix it again instead of reporting a stale cached success."""
    broken = "import os\n\n\nx = 1\n"
    (ws / "src" / "m.py").write_text(broken)
    melody(
        ws,
        "fix",
        """
        [melody]
        name = "fix"

        [[steps]]
        id = "fix"
        uses = "ruff.check"
        with = { paths = ["src/m.py"], fix = true, select = ["F401"] }
        """,
    )
    assert h.states(h.run("fix")) == {"fix": "completed"}
    assert "import os" not in (ws / "src" / "m.py").read_text()
    assert h.states(h.run("fix")) == {"fix": "completed"}  # stable now: this one is stored
    assert h.states(h.run("fix")) == {"fix": "cached"}
    (ws / "src" / "m.py").write_text(broken)  # reverted by the user
    assert h.states(h.run("fix")) == {"fix": "completed"}
    assert "import os" not in (ws / "src" / "m.py").read_text()


def test_from_reuses_nothing_when_params_differ(ws: Path, h: Harness) -> None:
    melody(
        ws,
        "two",
        """
        [melody]
        name = "two"

        [params]
        file = { default = "src/a.txt" }

        [[steps]]
        id = "read"
        uses = "fs.read"
        with = { path = "${params.file}" }

        [[steps]]
        id = "use"
        uses = "shell.run"
        with = { command = "printf %s '${steps.read.outputs.content}'" }
        """,
    )
    h.run("two")
    again = h.run("two", {"file": "src/b.txt"}, from_step="use")
    assert h.states(again)["read"] == "completed"  # not reused from the a.txt run
    use = next(s for s in again.steps if s.step_id == "use")
    assert use.outputs is not None and use.outputs["stdout"] == "beta\n"


def test_write_locks_name_a_file_however_it_is_spelled(ws: Path, h: Harness) -> None:
    (ws / "out" / "x.txt").write_text("")
    (ws / "out" / "link.txt").symlink_to(ws / "out" / "x.txt")
    conductor = h.runner.conductor
    names = {
        conductor._lock_name(p)
        for p in ("out/x.txt", "./out/x.txt", str(ws / "out" / "x.txt"), "out/link.txt")
    }
    assert names == {"out/x.txt"}


def test_a_run_can_be_resumed_by_one_process_only(ws: Path, h: Harness) -> None:
    melody(ws, "chain", CHAIN)
    summary = h.run("chain")
    store = h.runner.store
    store.set_run_state(summary.run_id, RunState.CRASHED)
    assert store.claim(summary.run_id, os.getpid()) is True
    assert store.claim(summary.run_id, os.getpid()) is False  # the second resume loses
    with pytest.raises(UsageError, match="still running"):
        h.runner.resume(summary.run_id)


def test_a_dead_runs_steps_show_crashed_and_prefixes_are_literal(ws: Path, h: Harness) -> None:
    melody(ws, "chain", CHAIN)
    summary = h.run("chain")
    store = h.runner.store
    row = store.steps(summary.run_id)[0]
    row.state = __import__("engine.runs.states", fromlist=["StepState"]).StepState.RUNNING
    store.save_steps([row])
    store.set_run_state(summary.run_id, RunState.RUNNING, pid=2**22 + 12345)  # no such process
    assert h.runner.refresh(store.run(summary.run_id)).state is RunState.CRASHED
    assert store.steps(summary.run_id)[0].state.value == "crashed"
    with pytest.raises(UsageError, match="no run"):
        store.run("%")
