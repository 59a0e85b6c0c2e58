"""The DAG tracker: runs a melody's steps in dependency order, in parallel, resumably.

One coordinator (the thread calling :meth:`MelodyRun.execute`) owns every state: it starts ready
steps on the executor up to the concurrency limit, receives their results through a queue,
decides what became ready, and writes state changes to the run store in batches (at most every
0.1 s, and at the end). Workers only compute: resolve references, compute the cache key, look it
up, call the conductor (with retries and backoff), store the outputs as an artifact.

Readiness. A step becomes ready when every dependency has finished. A step with a ``when``
condition is then evaluated (it may run after a failure — that is what ``when`` is for); a
step without one runs only if every dependency completed or was cached, and is otherwise
skipped with the reason. Cancellation sets every running step's cancel event (their processes
are stopped) and marks the rest cancelled.

Outcome. The run fails if a step that is not ``optional`` failed or crashed; an optional step's
failure is reported but does not fail the run. A step raising an input, permission or usage
error is not retried; any other failure is retried up to ``retry.attempts`` with backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.instruments.secrets import redact, redact_bytes, redact_json
from engine.melody.dag import Dag
from engine.melody.expr import compile_when
from engine.melody.refs import resolve
from engine.runs.cache import FileHasher, cache_key, file_inputs
from engine.runs.messages import RunFinished, RunStarted, StepProgress, StepStateChanged
from engine.runs.states import DONE_OK, TERMINAL, RunState, StepState
from engine.runs.store import CacheEntry, Decision, RunRow, StepRow
from engine.types.errors import (
    Cancelled,
    PermissionDenied,
    StepInputError,
    SymphonyError,
    UsageError,
)
from engine.types.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from engine.extensions.manifest import StepTypeSpec
    from engine.melody.model import Melody, StepSpec
    from engine.pit.artifacts.store import ArtifactStore
    from engine.runs.executor import Executor
    from engine.runs.store import RunStore
    from engine.types.messages import Event

__all__ = ["Dispatcher", "MelodyRun", "RunSummary"]

FLUSH_S = 0.1
NOT_RETRIED = (StepInputError, PermissionDenied, UsageError)


class Dispatcher(Protocol):
    """What calls one step (the conductor)."""

    def dispatch(
        self,
        *,
        run_id: str,
        step_id: str,
        step_type: str,
        inputs: Mapping[str, Any],
        extension: str | None,
        writes: Sequence[str],
        cancel: threading.Event,
        timeout: float | None,
        progress: Callable[[float | None, str], None],
        decide: Callable[[Decision], None],
    ) -> tuple[str, dict[str, Any]]:
        """Run the step; return (extension id, outputs). Raises what the call raised."""


@dataclass
class RunSummary:
    """How a run ended."""

    run_id: str
    state: RunState
    duration_ms: float
    steps: list[StepRow]
    error: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.state.value] = out.get(s.state.value, 0) + 1
        return out


@dataclass
class _Result:
    step_id: str
    state: StepState
    outputs: dict[str, Any] | None = None
    blob: bytes | None = None  # the outputs as stored (JSON), for the artifact written at flush
    extension: str | None = None
    cache_key: str | None = None
    cached: bool = False
    artifact: str | None = None
    attempts: int = 0
    duration_ms: float = 0.0
    error: str = ""
    decisions: list[Decision] = field(default_factory=list)


class MelodyRun:
    """One run of a melody (new, resumed or re-run from a step).

    Args:
        workspace: the workspace root.
        melody: the melody definition (for a resume: the pinned one).
        source: the melody file (for messages and the run record).
        store: the workspace's run store.
        dispatcher: calls steps (the conductor).
        step_types: every step type with its providers (``ExtensionManager.step_types()``).
        versions: extension id → version (for cache keys).
        artifacts: opens the artifact store (step outputs are stored as artifacts).
        emit: publishes run events.
        concurrency: steps running at once.
        executor: where steps run (default: a thread pool of ``concurrency`` workers).
        cache_salt: what a step's cache key must cover besides its inputs and files, given
            the ids of the extensions offering its step type (the configuration of the models
            they may call); None adds nothing.
    """

    def __init__(
        self,
        *,
        workspace: Path,
        melody: Melody,
        source: str,
        store: RunStore,
        dispatcher: Dispatcher,
        step_types: Mapping[str, list[tuple[str, StepTypeSpec]]],
        versions: Mapping[str, str],
        artifacts: Callable[[], ArtifactStore] | None,
        emit: Callable[[Event], None],
        concurrency: int = 4,
        executor: Executor | None = None,
        cache_salt: Callable[[Sequence[str]], Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.melody = melody
        self.source = source
        self.store = store
        self.dispatcher = dispatcher
        self.step_types = step_types
        self.versions = versions
        self.artifacts = artifacts
        self.emit = emit
        self.concurrency = max(1, concurrency)
        self.executor = executor
        self.cache_salt = cache_salt
        #: Asked when a step that is not optional failed for good: "retry", "skip" (go on
        #: without it) or "abort" (cancel the run). None (the default) means go on.
        self.on_failure: Callable[[str, str], str] | None = None
        self.dag = Dag.from_melody(melody)
        self.hasher = FileHasher(workspace, store)
        self.run_id = ""
        self.params: dict[str, Any] = {}
        self.rows: dict[str, StepRow] = {}
        self.forced: set[str] = set()
        self.resumed = False
        self._conditions = {s.id: compile_when(s.when) for s in melody.steps if s.when}
        self._specs = {s.id: s for s in melody.steps}
        self._results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._step_cancels: dict[str, threading.Event] = {}
        self._dirty: dict[str, StepRow] = {}
        self._decisions: list[Decision] = []
        self._outputs_pending: list[tuple[StepRow, bytes]] = []
        self._skipped_by_user: set[str] = set()
        self._cache_pending: list[CacheEntry] = []
        self._lock = threading.Lock()

    # --- preparing -----------------------------------------------------------------------------

    def create(
        self,
        params: Mapping[str, Any],
        *,
        parent: RunRow | None = None,
        from_step: str | None = None,
        force: bool = False,
    ) -> str:
        """Record a new run; with ``parent`` and ``from_step``, reuse the parent's results of
        every step not downstream of ``from_step``. Returns the run id."""
        self.run_id = new_id()
        self.params = self._params(params)
        self.rows = {
            s.id: StepRow(run_id=self.run_id, step_id=s.id, seq=i, uses=s.uses)
            for i, s in enumerate(self.melody.steps)
        }
        if force:
            self.forced = set(self.rows)
        reused: list[StepRow] = []
        if parent is not None and from_step is not None:
            if from_step not in self.rows:
                raise UsageError(f"--from {from_step!r}: the melody has no such step")
            self.forced = {from_step, *self.dag.downstream(from_step)}
            same = (
                parent.params == self.params
                and parent.definition_hash == self.melody.definition_hash()
            )
            parent_rows = {r.step_id: r for r in self.store.steps(parent.id)} if same else {}
            if not same:
                self._decisions.append(
                    Decision(
                        self.run_id,
                        from_step,
                        "reuse",
                        "none",
                        f"run {parent.id} had other parameters or another melody definition:"
                        " nothing is reused; steps upstream of --from go through the cache",
                    )
                )
            for sid, row in self.rows.items():
                old = parent_rows.get(sid)
                if sid in self.forced or old is None or old.state not in DONE_OK:
                    continue
                row.state, row.cached, row.outputs = StepState.CACHED, True, old.outputs
                row.artifact, row.extension, row.cache_key = (
                    old.artifact,
                    old.extension,
                    old.cache_key,
                )
                reused.append(row)
                self._decisions.append(
                    Decision(
                        self.run_id,
                        sid,
                        "reuse",
                        parent.id,
                        f"upstream of --from {from_step}: outputs pinned from run {parent.id}",
                    )
                )
        self.store.create_run(
            self.run_id,
            melody=self.melody.name,
            path=self.source,
            definition_hash=self.melody.definition_hash(),
            definition=self.melody.model_dump_json(by_alias=True),
            params=self.params,
            steps=list(self.rows.values()),
            parent=parent.id if parent is not None else None,
            from_step=from_step,
        )
        return self.run_id

    def load(self, run: RunRow) -> None:
        """Continue ``run``: keep what completed, run everything else again."""
        self.run_id = run.id
        self.params = run.params
        self.resumed = True
        rows = {r.step_id: r for r in self.store.steps(run.id)}
        self.rows = {}
        for i, s in enumerate(self.melody.steps):
            row = rows.get(s.id) or StepRow(run_id=run.id, step_id=s.id, seq=i, uses=s.uses)
            if row.state not in DONE_OK:
                row.state, row.error, row.outputs = StepState.PENDING, "", None
                row.started = row.finished = row.duration_ms = None
            self.rows[s.id] = row
            self._dirty[s.id] = row
        if run.from_step is not None and run.from_step in self.rows:
            # A resumed --from run still re-runs its step and what follows (if not done yet).
            self.forced = {run.from_step, *self.dag.downstream(run.from_step)}
        if not self.store.claim(run.id, os.getpid()):
            raise UsageError(f"run {run.id} was resumed by another process just now")

    def _params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(self.melody.params))
        if unknown:
            known = ", ".join(self.melody.params) or "none"
            raise UsageError(f"--param {unknown[0]}: the melody has no such parameter ({known})")
        values: dict[str, Any] = {}
        for name, spec in self.melody.params.items():
            if name in given:
                values[name] = given[name]
            elif spec.required and spec.default is None:
                raise UsageError(f"parameter {name!r} is required: --param {name}=VALUE")
            else:
                values[name] = spec.default
        return values

    # --- running -------------------------------------------------------------------------------

    def execute(self, cancel: threading.Event | None = None) -> RunSummary:
        """Run until every step is finished or the run is cancelled."""
        from engine.runs.executor import ThreadExecutor

        cancel = cancel or threading.Event()
        t0 = time.perf_counter()
        own_executor = self.executor is None
        executor = self.executor or ThreadExecutor(self.concurrency)
        self.emit(
            RunStarted(
                run_id=self.run_id,
                melody=self.melody.name,
                steps=tuple(self.rows),
                resumed=self.resumed,
            )
        )
        for row in self.rows.values():
            if row.state is StepState.CACHED and row.cached and row.outputs is not None:
                self._announce(row)
        waiting = {
            sid: {d for d in self.dag.deps(sid) if self.rows[d].state not in TERMINAL}
            for sid, row in self.rows.items()
            if row.state not in TERMINAL
        }
        ready: deque[str] = deque(sid for sid in self.rows if sid in waiting and not waiting[sid])
        running = 0
        cancelling = False
        last_flush = time.monotonic()
        crashed: BaseException | None = None
        try:
            while waiting or running:
                if cancel.is_set() and not cancelling:
                    cancelling = True
                    for ev in self._step_cancels.values():
                        ev.set()
                while ready and (running < self.concurrency or cancelling):
                    sid = ready.popleft()
                    del waiting[sid]
                    if self._start(sid, executor, cancelling):
                        running += 1
                    else:
                        self._release(sid, waiting, ready)
                if not waiting and not running:
                    break
                try:
                    kind, payload = self._results.get(timeout=0.05)
                except queue.Empty:
                    kind = ""
                if kind == "done":
                    running -= 1
                    self._finish(payload)
                    choice = self._recover(payload) if not cancelling else None
                    if choice == "retry":
                        waiting[payload.step_id] = set()
                        ready.appendleft(payload.step_id)
                        continue
                    if choice == "abort":
                        cancel.set()
                    self._release(payload.step_id, waiting, ready)
                elif kind == "state":
                    sid, attempt, started = payload
                    row = self.rows[sid]
                    row.state, row.attempts, row.started = StepState.RUNNING, attempt, started
                    self._dirty[sid] = row
                    self._announce(row)
                if time.monotonic() - last_flush >= FLUSH_S:
                    self._flush()
                    last_flush = time.monotonic()
        except BaseException as e:
            # The coordinator itself failed (the database, a bug): stop the steps rather than
            # leave them and their processes running unsupervised, and record the run crashed.
            crashed = e
            for ev in self._step_cancels.values():
                ev.set()
        finally:
            if own_executor:
                executor.shutdown()
            if crashed is None:
                self.hasher.flush()
        if crashed is not None:
            with contextlib.suppress(Exception):
                self.store.set_run_state(
                    self.run_id, RunState.CRASHED, error=f"{type(crashed).__name__}: {crashed}"
                )
            raise crashed
        state = self._outcome(cancel.is_set())
        error = self._error_summary()
        self._flush()
        self.store.set_run_state(self.run_id, state, error=error)
        duration = (time.perf_counter() - t0) * 1000
        summary = RunSummary(self.run_id, state, duration, list(self.rows.values()), error)
        self.emit(
            RunFinished(
                run_id=self.run_id,
                state=state.value,
                duration_ms=duration,
                counts=summary.counts(),
                error=error,
            )
        )
        return summary

    def _recover(self, result: _Result) -> str | None:
        """The last step of the recovery playbook: ask (retry / skip / abort), record it."""
        sid = result.step_id
        if (
            self.on_failure is None
            or result.state is not StepState.FAILED
            or self._specs[sid].optional
        ):
            return None
        choice = self.on_failure(sid, result.error)
        if choice not in ("retry", "skip", "abort"):
            return None
        why = {
            "retry": "asked to try it again",
            "skip": "asked to go on without it",
            "abort": "asked to stop the run",
        }[choice]
        self._decisions.append(
            Decision(
                self.run_id,
                sid,
                "recovery",
                choice,
                f"{sid} failed; the user {why}",
                ("retry", "skip", "abort"),
            )
        )
        row = self.rows[sid]
        if choice == "retry":
            row.state, row.error, row.finished = StepState.PENDING, "", None
            self._dirty[sid] = row
        elif choice == "skip":
            self._skipped_by_user.add(sid)
        return choice

    def _release(self, sid: str, waiting: dict[str, set[str]], ready: deque[str]) -> None:
        """``sid`` finished: its dependents that wait for nothing else become ready."""
        for dep in self.dag.dependents(sid):
            pending = waiting.get(dep)
            if pending is None:
                continue
            pending.discard(sid)
            if not pending:
                ready.append(dep)

    def _start(self, sid: str, executor: Executor, cancelling: bool) -> bool:
        """Decide whether a ready step runs; start it if so. False: it finished at once."""
        row = self.rows[sid]
        spec = self._specs[sid]
        skip: str | None = None
        if cancelling:
            self._set_final(row, StepState.CANCELLED, "the run was cancelled")
            return False
        condition = self._conditions.get(sid)
        views = self._views(sid)
        if condition is not None:
            try:
                holds = condition.evaluate(params=self.params, steps=views)
            except Exception as e:
                self._set_final(row, StepState.FAILED, f"`when` could not be evaluated: {e}")
                return False
            if not holds:
                skip = f"condition is false: {spec.when}"
        else:
            bad = [d for d in self.dag.deps(sid) if self.rows[d].state not in DONE_OK]
            if bad:
                skip = f"{bad[0]} {self.rows[bad[0]].state.value}"
        if skip is not None:
            self._set_final(row, StepState.SKIPPED, skip)
            return False
        step_cancel = threading.Event()
        self._step_cancels[sid] = step_cancel
        row.state = StepState.QUEUED
        self._dirty[sid] = row
        self._announce(row)
        executor.submit(
            lambda: self._work(spec, views, step_cancel),
            lambda result, error: self._results.put(
                ("done", result if error is None else _crash(sid, error))
            ),
        )
        return True

    def _views(self, sid: str) -> dict[str, dict[str, Any]]:
        """What ``sid``'s references and condition may see: its dependencies (references and
        conditions make dependencies, so nothing else can be named), as a fresh snapshot."""
        return {
            dep: {"status": self.rows[dep].state.value, "outputs": self.rows[dep].outputs or {}}
            for dep in self.dag.deps(sid)
        }

    def _set_final(self, row: StepRow, state: StepState, error: str) -> None:
        row.state, row.error, row.finished = state, redact(error), time.time()
        self._dirty[row.step_id] = row
        self._announce(row)

    def _finish(self, result: _Result) -> None:
        row = self.rows[result.step_id]
        row.state = result.state
        row.outputs = result.outputs
        row.extension = result.extension
        row.cache_key = result.cache_key
        row.cached = result.cached
        row.artifact = result.artifact
        row.attempts = max(row.attempts, result.attempts)
        row.duration_ms = result.duration_ms
        row.error = redact(result.error)  # kept in runs.db and sent in events
        row.finished = time.time()
        self._dirty[row.step_id] = row
        self._decisions.extend(result.decisions)
        self._step_cancels.pop(result.step_id, None)
        if result.blob is not None and result.artifact is not None:
            self._outputs_pending.append((row, result.blob))
        elif result.state is StepState.COMPLETED and result.cache_key is not None:
            self._cache_pending.append(
                CacheEntry(result.cache_key, row.uses, row.extension or "", row.outputs or {}, None)
            )
        self._announce(row)

    def _announce(self, row: StepRow) -> None:
        self.emit(
            StepStateChanged(
                run_id=self.run_id,
                step_id=row.step_id,
                state=row.state.value,
                attempt=row.attempts,
                cached=row.cached,
                extension=row.extension,
                duration_ms=row.duration_ms,
                error=row.error,
            )
        )

    def _flush(self) -> None:
        """Store the outputs finished since the last flush as artifacts (a few ``put_many``
        batches: one sync each, instead of one per step), then the cache entries and the step
        rows that name them, in one transaction."""
        self._store_outputs()
        rows, self._dirty = list(self._dirty.values()), {}
        decisions, self._decisions = self._decisions, []
        cache, self._cache_pending = self._cache_pending, []
        self.store.save_steps(rows, decisions, cache)
        flush = getattr(self.dispatcher, "flush", None)
        if callable(flush):
            flush()

    def _store_outputs(self) -> None:
        pending, self._outputs_pending = self._outputs_pending, []
        if not pending or self.artifacts is None:
            return
        from engine.pit.artifacts.models import Producer
        from engine.pit.artifacts.writes import PutItem

        store = self.artifacts()
        batch_hashes = {row.artifact for row, _ in pending}
        waves: list[list[tuple[StepRow, bytes]]] = []
        placed: dict[str, int] = {}
        for row, blob in pending:  # completion order: parents before children
            parents = [a for d in self.dag.deps(row.step_id) if (a := self.rows[d].artifact)]
            wave = 1 + max((placed.get(a, -1) for a in parents if a in batch_hashes), default=-1)
            placed[row.artifact or ""] = max(placed.get(row.artifact or "", 0), wave)
            while len(waves) <= wave:
                waves.append([])
            waves[wave].append((row, blob))
        for wave_items in waves:
            items = [
                PutItem(
                    data=blob,
                    name=f"{self.melody.name}.{row.step_id}",
                    media_type="application/json",
                    tags=("step-output",),
                    producer=Producer(
                        run=self.run_id,
                        node=row.step_id,
                        extension=f"{row.extension}@{self.versions.get(row.extension or '', '?')}",
                    ),
                    inputs=tuple(
                        sorted(
                            a
                            for d in self.dag.deps(row.step_id)
                            if (a := self.rows[d].artifact) is not None
                        )
                    ),
                )
                for row, blob in wave_items
            ]
            store.put_many(items)
        for row, _blob in pending:
            if row.cache_key is not None and row.state is StepState.COMPLETED:
                self._cache_pending.append(
                    CacheEntry(
                        row.cache_key,
                        row.uses,
                        row.extension or "",
                        row.outputs or {},
                        row.artifact,
                    )
                )

    def _outcome(self, cancelled: bool) -> RunState:
        if cancelled:
            return RunState.CANCELLED
        for sid, row in self.rows.items():
            if self._counts_against(sid, row):
                return RunState.FAILED
        return RunState.COMPLETED

    def _counts_against(self, sid: str, row: StepRow) -> bool:
        """A failure that fails the run: not optional, not waved through by the user."""
        return (
            row.state in (StepState.FAILED, StepState.CRASHED)
            and not self._specs[sid].optional
            and sid not in self._skipped_by_user
        )

    def _error_summary(self) -> str:
        for sid, row in self.rows.items():
            if self._counts_against(sid, row):
                return f"step {sid} {row.state.value}: {row.error}"
        return ""

    # --- one step, on a worker -----------------------------------------------------------------

    def _work(
        self, spec: StepSpec, views: dict[str, dict[str, Any]], cancel: threading.Event
    ) -> _Result:
        sid = spec.id
        t0 = time.perf_counter()
        result = _Result(sid, StepState.FAILED)
        providers = self.step_types.get(spec.uses, [])
        if spec.extension is not None:
            providers = [p for p in providers if p[0] == spec.extension]
        if not providers:
            result.error = f"no enabled extension offers step type {spec.uses!r}"
            return result
        type_spec = providers[0][1]
        try:
            from engine.extensions.steps import check_inputs

            inputs = resolve(dict(spec.with_), params=self.params, steps=views)
            values = check_inputs(f"step {sid} ({spec.uses})", type_spec.inputs, inputs)
        except (ValueError, StepInputError) as e:
            result.error = str(e)
            return result
        cacheable = spec.cache if spec.cache is not None else type_spec.cacheable
        key: str | None = None
        digest = ""
        read_paths = file_inputs(type_spec, values, "read")
        read_globs = [*type_spec.reads, *spec.files]
        if cacheable:
            digest = self.hasher.digest(read_paths, read_globs)
            ids = ",".join(sorted(f"{e}@{self.versions.get(e, '?')}" for e, _ in providers))
            salt = self.cache_salt([e for e, _ in providers]) if self.cache_salt else None
            key = cache_key(
                step_type=spec.uses,
                extension=ids,
                inputs=values,
                files_digest=digest,
                salt=salt,
            )
            result.cache_key = key
            if sid not in self.forced:
                hit = self.store.cache_get(key)
                if hit is not None:
                    result.state, result.cached = StepState.CACHED, True
                    result.outputs, result.artifact = hit.outputs, hit.artifact
                    result.extension = hit.extension
                    result.decisions.append(
                        Decision(
                            self.run_id, sid, "cache", "hit", f"cache key {key[:12]}… unchanged"
                        )
                    )
                    result.duration_ms = (time.perf_counter() - t0) * 1000
                    return result
        attempts = max(1, spec.retry.attempts)
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            self._results.put(("state", (sid, attempt, time.time())))
            try:
                ext_id, outputs = self.dispatcher.dispatch(
                    run_id=self.run_id,
                    step_id=sid,
                    step_type=spec.uses,
                    inputs=values,
                    extension=spec.extension,
                    writes=file_inputs(type_spec, values, "write"),
                    cancel=cancel,
                    timeout=spec.timeout_s,
                    progress=lambda f, m: self.emit(
                        StepProgress(run_id=self.run_id, step_id=sid, fraction=f, message=m)
                    ),
                    decide=result.decisions.append,
                )
            except Cancelled:
                result.state, result.error = StepState.CANCELLED, "cancelled"
                break
            except NOT_RETRIED as e:
                result.error = str(e)
                break
            except Exception as e:
                result.error = (
                    str(e) if isinstance(e, SymphonyError) else f"{type(e).__name__}: {e}"
                )
                if attempt < attempts:
                    delay = _backoff(spec, attempt)
                    result.decisions.append(
                        Decision(
                            self.run_id,
                            sid,
                            "retry",
                            f"attempt {attempt + 1} of {attempts}",
                            f"attempt {attempt} failed ({result.error.splitlines()[0][:200]});"
                            f" retrying in {delay:g} s ({spec.retry.backoff} backoff)",
                        )
                    )
                    if cancel.wait(delay):
                        result.state, result.error = StepState.CANCELLED, "cancelled"
                        break
                    continue
                break
            else:
                # A step's outputs never keep a secret (a command echoing an API key): what
                # runs.db, the cache, the output artifact and later steps see is the same.
                outputs = redact_json(outputs)
                result.state, result.outputs, result.extension, result.error = (
                    StepState.COMPLETED,
                    outputs,
                    ext_id,
                    "",
                )
                if self.artifacts is not None:
                    result.blob = redact_bytes(  # a secret in a default=str rendering too
                        json.dumps(outputs, sort_keys=True, indent=2, default=str).encode()
                    )
                    result.artifact = hashlib.sha256(result.blob).hexdigest()
                if key is not None and self.hasher.digest(read_paths, read_globs) != digest:
                    # The files it reads changed while it ran (it fixed them, or another step
                    # wrote them): the result belongs to no stable key, so it is not reused.
                    result.cache_key = None
                    result.decisions.append(
                        Decision(
                            self.run_id,
                            sid,
                            "cache",
                            "not stored",
                            "the files it reads changed while it ran; the next run decides again",
                        )
                    )
                break
        result.duration_ms = (time.perf_counter() - t0) * 1000
        return result


def _backoff(spec: StepSpec, attempt: int) -> float:
    r = spec.retry
    delay = r.initial_s if r.backoff == "fixed" else r.initial_s * (2 ** (attempt - 1))
    return float(min(delay, r.max_s))


def _crash(sid: str, error: BaseException) -> _Result:
    return _Result(sid, StepState.CRASHED, error=f"{type(error).__name__}: {error}")
