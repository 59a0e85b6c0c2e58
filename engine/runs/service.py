"""Running melodies in a started engine: the glue between melodies, the scheduler and the
conductor, shared by ``symphony run``, ``symphony ask``, ``symphony watch`` and (later) the TUI.

:class:`Runner` opens the workspace's run store (``.symphony/runs.db``), builds the conductor
(with an arbiter for write locks) and prepares :class:`~engine.runs.scheduler.MelodyRun`\\ s:
new runs (validated first), resumed runs (with the definition pinned when they started) and
``--from`` re-runs of the latest run of a melody.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from engine.runs.states import RunState
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from engine.melody.model import Melody
    from engine.runs.scheduler import MelodyRun
    from engine.runs.store import RunRow, RunStore
    from engine.runtime import Engine
    from engine.types.messages import Event

__all__ = ["DB_NAME", "Runner", "pid_alive"]

DB_NAME = "runs.db"


def pid_alive(pid: int, *, started_before: float | None = None) -> bool:
    """Whether a process with ``pid`` runs (zombies count as dead).

    With ``started_before`` (a wall-clock time), a process that started after it is another
    one that reused the pid, and counts as dead too (Linux; elsewhere the pid alone decides).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:  # noqa: PTH123 - Linux fast path
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return True
    if fields[0] == "Z":
        return False
    if started_before is not None:
        start = _process_start(int(fields[19]))
        if start is not None and start > started_before + 1.0:
            return False
    return True


def _process_start(ticks: int) -> float | None:
    """Wall-clock start time of a process from its start in clock ticks after boot."""
    try:
        with open("/proc/stat") as f:  # noqa: PTH123
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


class Runner:
    """Melody runs of one started engine."""

    def __init__(self, engine: Engine) -> None:
        from engine.conductor.conductor import Conductor
        from engine.config.paths import resolve_state_dir
        from engine.runs.store import RunStore

        self.engine = engine
        self.workspace = engine.workspace
        state_dir = resolve_state_dir(self.workspace, engine.config.core.state_dir)
        self.store: RunStore = RunStore(state_dir / DB_NAME)
        #: Called with every run event besides the bus (the CLI's display).
        self.listeners: list[Callable[[Event], None]] = []
        from engine.pit.arbitration import Arbiter

        self.conductor = Conductor(engine.extensions, self.store, arbiter=Arbiter())

    def close(self) -> None:
        self.conductor.flush()
        self.store.close()

    def emit(self, event: Event) -> None:
        if not self.engine.bus.closed:
            self.engine.bus.emit(event)
        for listener in self.listeners:
            listener(event)

    # --- building runs ---------------------------------------------------------------------------

    def _run_for(self, melody: Melody, source: str) -> MelodyRun:
        from engine.runs.scheduler import MelodyRun

        manager = self.engine.extensions
        versions = {s.id: s.version for s in manager.statuses()}
        return MelodyRun(
            workspace=self.workspace,
            melody=melody,
            source=source,
            store=self.store,
            dispatcher=self.conductor,
            step_types=manager.step_types([s.uses for s in melody.steps]),
            versions=versions,
            artifacts=self.engine.pit.store,
            emit=self.emit,
            concurrency=self.engine.config.core.concurrency,
            cache_salt=self._models_salt,
        )

    def _models_salt(self, extensions: Sequence[str]) -> Any:
        """The configuration of the models the step's extensions may call (see
        :func:`engine.instruments.access.fingerprint`): a changed endpoint, model name or
        default parameter makes an AI step's cached result stale."""
        from engine.instruments.access import fingerprint

        manager = self.engine.extensions
        grants: list[str] = []
        for ext_id in extensions:
            try:
                grants.extend(manager.manifest(ext_id).permissions.models)
            except UsageError:
                continue  # a provider outside the registry (an MCP server): no model access
        return fingerprint(self.engine.config.aide, sorted(set(grants)))

    def load(self, target: str) -> tuple[Melody, Path]:
        """Find and parse a melody (NAME or file)."""
        from engine.melody.loader import find_melody, load_melody

        path = find_melody(self.workspace, target)
        return load_melody(path, source=str(path)), path

    def check(self, melody: Melody, source: str, params: Mapping[str, Any]) -> None:
        """Validate against the enabled extensions' step types.

        Raises:
            MelodyErrors: every problem found.
        """
        from engine.melody.validate import validate_or_raise

        step_types = self.engine.extensions.step_specs([s.uses for s in melody.steps])
        validate_or_raise(melody, source=source, step_types=step_types, params=params)

    def new_run(
        self,
        target: str | Melody,
        params: Mapping[str, Any],
        *,
        from_step: str | None = None,
        force: bool = False,
        source: str | None = None,
    ) -> MelodyRun:
        """A new, validated run of ``target`` (a NAME, a file, or a melody built in memory).

        With ``from_step``, the latest run of the melody provides every result upstream of it.
        """
        if isinstance(target, str):
            melody, path = self.load(target)
            source = str(path)
        else:
            melody, source = target, source or f"<{target.name}>"
        self.check(melody, source, params)
        run = self._run_for(melody, source)
        parent: RunRow | None = None
        if from_step is not None:
            previous = self.store.runs(melody=melody.name, limit=1)
            if not previous:
                raise UsageError(f"--from {from_step}: melody {melody.name!r} has no run yet")
            parent = previous[0]
        run.create(params, parent=parent, from_step=from_step, force=force)
        return run

    def resume(self, run_id: str) -> tuple[MelodyRun, str | None]:
        """Continue a run that did not finish. Returns the run and a note when the melody file
        changed since (the pinned definition is used either way).

        Raises:
            UsageError: no such run, it finished, or it is still running in another process.
        """
        from engine.melody.model import Melody

        row = self.refresh(self.store.run(run_id))
        if row.state is RunState.COMPLETED:
            raise UsageError(f"run {row.id} completed; nothing to resume")
        if row.state is RunState.RUNNING:
            raise UsageError(f"run {row.id} is still running (process {row.pid})")
        melody = Melody.model_validate_json(row.definition)
        note = None
        try:
            current, _path = self.load(row.path)
            if current.definition_hash() != row.definition_hash:
                note = (
                    f"{row.path} changed since run {row.id} started; resuming the definition"
                    " pinned then"
                )
        except Exception:
            note = f"{row.path} is gone or invalid; resuming the definition pinned by the run"
        run = self._run_for(melody, row.path)
        run.load(row)
        return run, note

    def refresh(self, row: RunRow) -> RunRow:
        """A run marked running whose process is gone is recorded as crashed (resumable)."""
        if row.state is RunState.RUNNING and not self.owner_alive(row):
            self.store.set_run_state(row.id, RunState.CRASHED, error="its process ended")
            self.store.crash_steps(row.id)
            return self.store.run(row.id)
        return row

    @staticmethod
    def owner_alive(row: RunRow) -> bool:
        """Whether the process that runs ``row`` is still that process (not a reused pid)."""
        return pid_alive(row.pid, started_before=row.created)
