"""The runs phase: melody runs driven over the bus (the TUI's Harmony Board, runs view and
conductor panel).

The CLI drives :class:`~engine.runs.service.Runner` directly; the TUI never touches the engine,
so this phase answers the commands of :mod:`engine.runs.messages` with the same runner. A
started run executes on a thread of its own and reports through the usual run events
(``RunStarted``, ``StepStateChanged``, ``StepProgress``, ``RunFinished``) plus two more:

- :class:`RecoveryAsked` when a step that is not optional failed for good; the run waits until
  :class:`AnswerRecovery` says retry, skip or abort (cancelling the run answers abort);
- :class:`StepLog` for each log line of the extension running a step. Lines are attributed by
  the thread an in-process extension logs from, and for an extension in its own process by
  the extension: while two steps of one extension run at once, a line goes to both.

The run store (``.symphony/runs.db``) is opened on the first command that needs it, so opening
a folder in Symphony does not litter it. Stopping the engine cancels the runs it started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.instruments.secrets import redact
from engine.runs.messages import (
    AnswerRecovery,
    CancelRun,
    DecisionInfo,
    GetRun,
    ListMelodies,
    ListRuns,
    LoadMelody,
    MelodyEntry,
    MelodyList,
    MelodyReply,
    PlanReply,
    PlanRequest,
    RecoveryAsked,
    ResumeRun,
    RunAccepted,
    RunDetail,
    RunInfo,
    RunList,
    StartRun,
    StepInfo,
    StepLog,
)
from engine.types.errors import UsageError
from engine.types.messages import (
    Ack,
    Command,
    ComponentHealth,
    HealthStatus,
    Message,
    command_topic,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.bus import Bus
    from engine.runs.scheduler import MelodyRun
    from engine.runs.service import Runner
    from engine.runs.store import Decision, RunRow, StepRow
    from engine.runtime import Engine

__all__ = ["RECOVERY_CHOICES", "RunsPhase"]

RECOVERY_CHOICES = ("retry", "skip", "abort")
#: How long stopping the engine waits for cancelled runs to wind down, in seconds.
STOP_GRACE = 10.0
#: Extension loggers live under this name (``symphony.ext.<id>``).
EXT_LOGGER = "symphony.ext"


class _Live:
    """A run this engine executes."""

    def __init__(self, run: MelodyRun) -> None:
        self.run = run
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None
        #: step id → (answered, [choice]) for a recovery question waiting for its answer.
        self.questions: dict[str, tuple[threading.Event, list[str]]] = {}


class _StepLogs(logging.Handler):
    """Turns extension log records into :class:`StepLog` events of the steps running them."""

    def __init__(self, phase: RunsPhase) -> None:
        super().__init__(logging.DEBUG)
        self._phase = phase

    def emit(self, record: logging.LogRecord) -> None:
        try:
            for run_id, step_id in self._phase.steps_logging(record):
                self._phase.emit(
                    StepLog(
                        run_id=run_id,
                        step_id=step_id,
                        level=record.levelname.lower(),
                        message=redact(record.getMessage()),
                        ts=record.created,
                    )
                )
        except Exception:  # a log handler must never raise into the extension
            self.handleError(record)


class _Tracing:
    """Wraps the conductor to know which step each extension is running (for step logs)."""

    def __init__(self, inner: Any, phase: RunsPhase) -> None:
        self._inner = inner
        self._phase = phase

    def dispatch(
        self, *, run_id: str, step_id: str, decide: Callable[[Decision], None], **kw: Any
    ) -> Any:
        phase = self._phase
        step = (run_id, step_id)
        chosen: list[str] = []

        def seen(decision: Decision) -> None:
            if decision.kind in ("provider", "fallback"):
                with phase.lock:
                    for ext in chosen:
                        phase.running_ext[ext].discard(step)
                    chosen[:] = [decision.choice]
                    phase.running_ext[decision.choice].add(step)
            decide(decision)

        phase.thread_step.value = step
        try:
            return self._inner.dispatch(run_id=run_id, step_id=step_id, decide=seen, **kw)
        finally:
            phase.thread_step.value = None
            with phase.lock:
                for ext in chosen:
                    phase.running_ext[ext].discard(step)


class RunsPhase:
    """Run melodies for bus clients; one per engine, after the extensions phase."""

    name = "runs"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.lock = threading.Lock()
        self._runner: Runner | None = None
        self._live: dict[str, _Live] = {}
        #: Extension id → (run id, step id) of the steps it is running now.
        self.running_ext: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
        self.thread_step = threading.local()
        self._handler = _StepLogs(self)
        self._saved_level: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        logging.getLogger(EXT_LOGGER).addHandler(self._handler)

    def stop(self) -> None:
        with self.lock:
            live = list(self._live.values())
        for job in live:
            self._cancel(job)
        deadline = time.monotonic() + STOP_GRACE
        for job in live:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
        logging.getLogger(EXT_LOGGER).removeHandler(self._handler)
        with self.lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()

    def health(self) -> ComponentHealth:
        with self.lock:
            n = len(self._live)
        return ComponentHealth(
            name=self.name,
            status=HealthStatus.HEALTHY,
            detail={"running": n},
        )

    # --- plumbing ----------------------------------------------------------------------------

    def emit(self, event: Any) -> None:
        bus = self._engine.bus
        if not bus.closed:
            bus.emit(event)

    def runner(self) -> Runner:
        with self.lock:
            if self._runner is None:
                from engine.runs.service import Runner

                self._runner = Runner(self._engine)
            return self._runner

    def _store_exists(self) -> bool:
        from engine.config.paths import resolve_state_dir
        from engine.runs.service import DB_NAME

        if self._runner is not None:
            return True
        state = resolve_state_dir(self._engine.workspace, self._engine.config.core.state_dir)
        return (state / DB_NAME).exists()

    def steps_logging(self, record: logging.LogRecord) -> list[tuple[str, str]]:
        """The steps a log record of an extension belongs to."""
        step = getattr(self.thread_step, "value", None)
        if step is not None:
            return [step]
        ext = record.name[len(EXT_LOGGER) + 1 :]
        with self.lock:
            return sorted(self.running_ext.get(ext, ()))

    def register(self, bus: Bus) -> None:
        """Answer the run commands on ``bus``."""
        handlers: dict[type[Command], Callable[[Any], Message]] = {
            StartRun: self._start_run,
            ResumeRun: self._resume,
            CancelRun: self._cancel_run,
            AnswerRecovery: self._answer,
            ListRuns: self._list_runs,
            GetRun: self._get_run,
            PlanRequest: self._plan,
            LoadMelody: self._load_melody,
            ListMelodies: self._list_melodies,
        }
        for cls, fn in handlers.items():
            bus.handle(command_topic(cls), on_payload(fn))

    # --- starting and stopping runs ----------------------------------------------------------

    def _start_run(self, cmd: StartRun) -> RunAccepted:
        runner = self.runner()
        if cmd.definition:
            from engine.melody.model import Melody

            try:
                melody = Melody.model_validate_json(cmd.definition)
            except ValueError as e:
                raise UsageError(f"the melody to run is not valid: {e}") from None
            run = runner.new_run(
                melody,
                cmd.params,
                from_step=cmd.from_step,
                force=cmd.force,
                source=cmd.source or None,
            )
        elif cmd.target:
            run = runner.new_run(cmd.target, cmd.params, from_step=cmd.from_step, force=cmd.force)
        else:
            raise UsageError("StartRun needs a melody: a target (NAME or file) or a definition")
        return self._launch(run, ask=cmd.ask_on_failure)

    def _resume(self, cmd: ResumeRun) -> RunAccepted:
        run, _note = self.runner().resume(cmd.run_id)
        return self._launch(run, ask=cmd.ask_on_failure)

    def _launch(self, run: MelodyRun, *, ask: bool) -> RunAccepted:
        job = _Live(run)
        run.dispatcher = _Tracing(run.dispatcher, self)
        if ask:
            run.on_failure = lambda sid, error: self._ask(job, sid, error)
        with self.lock:
            self._live[run.run_id] = job
            if len(self._live) == 1:
                self._raise_ext_level()
        job.thread = threading.Thread(
            target=self._execute, args=(job,), name=f"symphony-run-{run.run_id[:8]}", daemon=True
        )
        job.thread.start()
        return RunAccepted(
            run_id=run.run_id, melody=run.melody.name, steps=tuple(s.id for s in run.melody.steps)
        )

    def _execute(self, job: _Live) -> None:
        log = logging.getLogger(__name__)
        try:
            job.run.execute(job.cancel)
        except Exception:
            log.exception("run %s ended with an error", job.run.run_id)
        finally:
            with self.lock:
                self._live.pop(job.run.run_id, None)
                if not self._live:
                    self._restore_ext_level()

    def _raise_ext_level(self) -> None:
        """Let extensions' info lines through while runs go (the board shows them)."""
        logger = logging.getLogger(EXT_LOGGER)
        if logger.getEffectiveLevel() > logging.INFO:
            self._saved_level = logger.level
            logger.setLevel(logging.INFO)

    def _restore_ext_level(self) -> None:
        if self._saved_level is not None:
            logging.getLogger(EXT_LOGGER).setLevel(self._saved_level)
            self._saved_level = None

    def _ask(self, job: _Live, step_id: str, error: str) -> str:
        answered = threading.Event()
        box: list[str] = []
        with self.lock:
            job.questions[step_id] = (answered, box)
        self.emit(RecoveryAsked(run_id=job.run.run_id, step_id=step_id, error=error))
        while not answered.wait(0.2):
            if job.cancel.is_set() or self._engine.bus.closed:
                box.append("abort")
                break
        with self.lock:
            job.questions.pop(step_id, None)
        return box[0] if box else "abort"

    def _answer(self, cmd: AnswerRecovery) -> Ack:
        if cmd.choice not in RECOVERY_CHOICES:
            raise UsageError(
                f"choice {cmd.choice!r}: expected one of {', '.join(RECOVERY_CHOICES)}"
            )
        with self.lock:
            job = self._live.get(cmd.run_id)
            question = job.questions.get(cmd.step_id) if job is not None else None
        if question is None:
            raise UsageError(f"run {cmd.run_id} is not waiting for an answer about {cmd.step_id}")
        answered, box = question
        box.append(cmd.choice)
        answered.set()
        return Ack(detail=f"{cmd.step_id}: {cmd.choice}")

    def _cancel(self, job: _Live) -> None:
        job.cancel.set()
        with self.lock:
            questions = list(job.questions.values())
        for answered, box in questions:
            box.append("abort")
            answered.set()

    def _cancel_run(self, cmd: CancelRun) -> Ack:
        with self.lock:
            job = self._live.get(cmd.run_id)
        if job is None:
            raise UsageError(f"run {cmd.run_id} is not running in this Symphony")
        self._cancel(job)
        return Ack(detail=f"cancelling run {cmd.run_id}")

    # --- reading runs ------------------------------------------------------------------------

    def _info(self, row: RunRow, steps: list[StepRow]) -> RunInfo:
        counts: dict[str, int] = {}
        for s in steps:
            counts[str(s.state)] = counts.get(str(s.state), 0) + 1
        with self.lock:
            live = row.id in self._live
        end = row.finished if row.finished is not None else (time.time() if live else None)
        return RunInfo(
            id=row.id,
            melody=row.melody,
            path=row.path,
            state=str(row.state),
            created=row.created,
            finished=row.finished,
            duration_ms=(end - row.created) * 1000 if end is not None else None,
            counts=counts,
            error=row.error,
            parent=row.parent,
            from_step=row.from_step,
            live=live,
        )

    def _list_runs(self, cmd: ListRuns) -> RunList:
        if not self._store_exists():
            return RunList(runs=())
        runner = self.runner()
        rows = [runner.refresh(r) for r in runner.store.runs(melody=cmd.melody, limit=cmd.limit)]
        return RunList(runs=tuple(self._info(r, runner.store.steps(r.id)) for r in rows))

    def _get_run(self, cmd: GetRun) -> RunDetail:
        if not self._store_exists():
            raise UsageError("no run yet in this workspace")
        runner = self.runner()
        if cmd.run_id:
            row = runner.store.run(cmd.run_id)
        elif not cmd.melody:
            raise UsageError("GetRun needs a run id or a melody name")
        else:
            latest = runner.store.runs(melody=cmd.melody or None, limit=1)
            if not latest:
                raise UsageError(f"melody {cmd.melody!r} has no run yet")
            row = latest[0]
        row = runner.refresh(row)
        steps = runner.store.steps(row.id)
        return RunDetail(
            run=self._info(row, steps),
            steps=tuple(
                StepInfo(
                    step_id=s.step_id,
                    uses=s.uses,
                    state=str(s.state),
                    attempts=s.attempts,
                    started=s.started,
                    finished=s.finished,
                    duration_ms=s.duration_ms,
                    cached=s.cached,
                    extension=s.extension,
                    outputs=s.outputs,
                    artifact=s.artifact,
                    error=s.error,
                )
                for s in steps
            ),
            decisions=tuple(
                DecisionInfo(
                    step_id=d.step_id,
                    kind=d.kind,
                    choice=d.choice,
                    rationale=d.rationale,
                    alternatives=tuple(d.alternatives),
                    ts=d.ts,
                )
                for d in runner.store.decisions(row.id)
            ),
            definition=row.definition,
        )

    def step_outputs(self, run_id: str) -> list[dict[str, Any]]:
        """The outputs of a run's steps that produced any, in declaration order.

        Raises:
            UsageError: no run yet, or no such run.
        """
        if not self._store_exists():
            raise UsageError("no run yet in this workspace")
        steps = self.runner().store.steps(run_id)
        return [s.outputs for s in steps if s.outputs]

    # --- melodies and plans ------------------------------------------------------------------

    def _plan(self, cmd: PlanRequest) -> PlanReply:
        from engine.conductor.model_planner import plan_request

        engine = self._engine
        step_types = engine.extensions.step_specs()
        result = plan_request(
            cmd.request, workspace=engine.workspace, step_types=step_types, models=engine.models
        )
        return PlanReply(
            request=cmd.request,
            definition=result.melody.model_dump_json(by_alias=True) if result.melody else "",
            rationale=result.rationale,
            unsupported=tuple(result.unsupported),
            intents=tuple(i.name for i in result.intents),
        )

    def _load_melody(self, cmd: LoadMelody) -> MelodyReply:
        from engine.melody.errors import MelodyError, MelodyErrors
        from engine.melody.loader import find_melody, load_melody
        from engine.melody.validate import validate

        path = find_melody(self._engine.workspace, cmd.target)
        try:
            melody = load_melody(path, source=str(path))
        except MelodyError as e:
            errors = e.errors if isinstance(e, MelodyErrors) else [e]
            return MelodyReply(
                name=path.stem, path=str(path), definition="", problems=tuple(map(str, errors))
            )
        step_types = self._engine.extensions.step_specs([s.uses for s in melody.steps])
        problems = validate(melody, source=str(path), step_types=step_types)
        return MelodyReply(
            name=melody.name,
            path=str(path),
            definition=melody.model_dump_json(by_alias=True),
            problems=tuple(str(p) for p in problems),
        )

    def _list_melodies(self, _cmd: ListMelodies) -> MelodyList:
        from engine.melody.loader import list_melodies

        return MelodyList(
            melodies=tuple(
                MelodyEntry(name=p.stem, path=str(p)) for p in list_melodies(self._engine.workspace)
            )
        )
