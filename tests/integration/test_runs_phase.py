"""The runs phase over the bus: what the TUI's board, runs view and conductor panel drive."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.runs.messages import (
    AnswerRecovery,
    CancelRun,
    GetRun,
    ListMelodies,
    ListRuns,
    LoadMelody,
    PlanRequest,
    RecoveryAsked,
    ResumeRun,
    RunFinished,
    StartRun,
    StepLog,
    StepStateChanged,
)
from engine.runtime import Engine
from engine.types.errors import RemoteError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEMO = """\
[melody]
name = "demo"

[[steps]]
id = "hello"
uses = "shell.run"
with = { command = "echo hello" }

[[steps]]
id = "flaky"
uses = "shell.run"
needs = ["hello"]
with = { command = "test -f ok || exit 3" }
"""

SLOW = """\
[melody]
name = "slow"

[[steps]]
id = "nap"
uses = "shell.run"
with = { command = "sleep 30" }
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, envelope: Any) -> None:
        with self._lock:
            self.events.append(envelope.payload)

    def of(self, cls: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, cls)]

    def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; events: {[type(e).__name__ for e in self.events]}"
                )
            time.sleep(0.02)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / ".symphony" / "melodies"
    folder.mkdir(parents=True)
    (folder / "demo.toml").write_text(DEMO)
    (folder / "slow.toml").write_text(SLOW)
    (folder / "broken.toml").write_text(
        '[melody]\nname = "broken"\n[[steps]]\nid = "x"\nuses = "no.such"\n'
    )
    return tmp_path


@pytest.fixture
def engine(workspace: Path) -> Iterator[tuple[Engine, Recorder]]:
    recorder = Recorder()
    with Engine(workspace, watch_config=False) as e:
        e.subscribe(recorder, "evt.*")
        yield e, recorder


def test_nothing_is_written_until_a_run_starts(
    engine: tuple[Engine, Recorder], workspace: Path
) -> None:
    e, _ = engine
    assert e.send(ListRuns()).runs == ()
    assert not (workspace / ".symphony" / "runs.db").exists()
    names = [m.name for m in e.send(ListMelodies()).melodies]
    assert names == ["broken", "demo", "slow"]


def test_load_melody_reports_problems_without_failing(engine: tuple[Engine, Recorder]) -> None:
    e, _ = engine
    ok = e.send(LoadMelody(target="demo"))
    assert ok.name == "demo" and ok.problems == () and '"hello"' in ok.definition
    broken = e.send(LoadMelody(target="broken"))
    assert broken.definition and any("no.such" in p for p in broken.problems)
    with pytest.raises(RemoteError, match="nope"):
        e.send(LoadMelody(target="nope"))


def test_a_failed_step_asks_and_retry_runs_it_again(
    engine: tuple[Engine, Recorder], workspace: Path
) -> None:
    e, rec = engine
    accepted = e.send(StartRun(target="demo"))
    assert accepted.steps == ("hello", "flaky")
    rec.wait(lambda: bool(rec.of(RecoveryAsked)))
    asked = rec.of(RecoveryAsked)[0]
    assert (asked.run_id, asked.step_id) == (accepted.run_id, "flaky")
    assert "3" in asked.error
    listed = e.send(ListRuns()).runs
    assert listed[0].id == accepted.run_id and listed[0].live and listed[0].state == "running"
    with pytest.raises(RemoteError, match="expected one of"):
        e.send(AnswerRecovery(run_id=accepted.run_id, step_id="flaky", choice="maybe"))
    (workspace / "ok").write_text("")
    e.send(AnswerRecovery(run_id=accepted.run_id, step_id="flaky", choice="retry"))
    rec.wait(lambda: bool(rec.of(RunFinished)))
    assert rec.of(RunFinished)[0].state == "completed"
    detail = e.send(GetRun(run_id=accepted.run_id))
    assert [(s.step_id, s.state) for s in detail.steps] == [
        ("hello", "completed"),
        ("flaky", "completed"),
    ]
    assert ("recovery", "retry") in [(d.kind, d.choice) for d in detail.decisions]
    assert not detail.run.live
    with pytest.raises(RemoteError, match="not waiting"):
        e.send(AnswerRecovery(run_id=accepted.run_id, step_id="flaky", choice="skip"))


def test_abort_fails_the_run_and_resume_continues_it(
    engine: tuple[Engine, Recorder], workspace: Path
) -> None:
    e, rec = engine
    accepted = e.send(StartRun(target="demo"))
    rec.wait(lambda: bool(rec.of(RecoveryAsked)))
    e.send(AnswerRecovery(run_id=accepted.run_id, step_id="flaky", choice="abort"))
    rec.wait(lambda: bool(rec.of(RunFinished)))
    assert rec.of(RunFinished)[0].state in ("cancelled", "failed")
    (workspace / "ok").write_text("")
    again = e.send(ResumeRun(run_id=accepted.run_id))
    assert again.run_id == accepted.run_id
    rec.wait(lambda: len(rec.of(RunFinished)) == 2)
    assert rec.of(RunFinished)[1].state == "completed"
    latest = e.send(GetRun(melody="demo"))
    assert latest.run.id == accepted.run_id


def test_cancel_stops_a_running_step(engine: tuple[Engine, Recorder]) -> None:
    e, rec = engine
    accepted = e.send(StartRun(target="slow"))
    rec.wait(
        lambda: any(s.state == "running" for s in rec.of(StepStateChanged) if s.step_id == "nap")
    )
    t0 = time.monotonic()
    e.send(CancelRun(run_id=accepted.run_id))
    rec.wait(lambda: bool(rec.of(RunFinished)))
    assert time.monotonic() - t0 < 10
    assert rec.of(RunFinished)[0].state == "cancelled"
    with pytest.raises(RemoteError, match="not running"):
        e.send(CancelRun(run_id=accepted.run_id))


def test_a_plan_runs_from_its_definition_with_step_logs(engine: tuple[Engine, Recorder]) -> None:
    e, rec = engine
    plan = e.send(PlanRequest(request="show the git status"))
    assert plan.definition, plan.unsupported
    assert "status" in plan.intents
    none = e.send(PlanRequest(request="bake a cake"))
    assert none.definition == "" and not none.intents
    accepted = e.send(
        StartRun(
            definition=plan.definition, source="ask: show the git status", ask_on_failure=False
        )
    )
    rec.wait(lambda: bool(rec.of(RunFinished)))
    assert e.send(GetRun(run_id=accepted.run_id)).run.path == "ask: show the git status"
    with pytest.raises(RemoteError, match="not valid"):
        e.send(StartRun(definition="{"))
    with pytest.raises(RemoteError, match="needs a melody"):
        e.send(StartRun())


def test_step_logs_are_attributed_to_the_running_step(engine: tuple[Engine, Recorder]) -> None:
    e, rec = engine
    accepted = e.send(StartRun(target="demo", ask_on_failure=False))
    rec.wait(lambda: bool(rec.of(RunFinished)))
    logs = rec.of(StepLog)
    assert logs, "the shell extension logs the command it runs"
    assert {(log.run_id, log.step_id) for log in logs} <= {
        (accepted.run_id, "hello"),
        (accepted.run_id, "flaky"),
    }


def test_stopping_the_engine_cancels_its_runs(workspace: Path) -> None:
    recorder = Recorder()
    e = Engine(workspace, watch_config=False)
    e.start()
    e.subscribe(recorder, "evt.*")
    accepted = e.send(StartRun(target="slow"))
    recorder.wait(lambda: any(s.state == "running" for s in recorder.of(StepStateChanged)))
    t0 = time.monotonic()
    e.stop()
    assert time.monotonic() - t0 < 10
    with Engine(workspace, watch_config=False) as again:
        run = again.send(GetRun(run_id=accepted.run_id)).run
    assert run.state == "cancelled"
