"""``symphony run`` and ``symphony runs …``: run melodies and look at runs.

On a terminal ``run`` shows a live display on stderr (one line per running step, an overall bar)
and prints each finished step above it; with ``--json`` stdout carries one JSON object per event
(JSON Lines) and nothing else; otherwise (a pipe, CI) each finished step is a line on stdout.
Exit codes: 0 the run completed, 1 it failed, 2 a usage or melody error, 130 cancelled.
Ctrl-C (or SIGTERM, which ``symphony runs cancel`` sends, or SIGHUP when the terminal closes)
cancels the run, also while the retry/skip/abort question waits: running steps are stopped with
their processes, the run is recorded cancelled and can be resumed.
"""

from __future__ import annotations

import json
import select
import signal
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from engine.types.errors import EXIT_FAILED, EXIT_INTERRUPTED, UsageError
from symphony_cli.output import WorkspaceOption, emit_json, out, resolve_workspace, say

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.runs.scheduler import MelodyRun, RunSummary
    from engine.runs.service import Runner
    from engine.types.messages import Event

JsonOption = Annotated[bool, typer.Option("--json", help="JSON Lines events on stdout.")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="A parameter value (read as a TOML value unless the parameter is a string).",
    ),
]

runs_app = typer.Typer(help="List, inspect and cancel melody runs.", no_args_is_help=True)

_MARK = {
    "completed": "✓",
    "cached": "•",
    "failed": "✗",
    "crashed": "✗",
    "skipped": "-",
    "cancelled": "⊘",
}


@contextmanager
def _runner(ctx: typer.Context, workspace: Path) -> Iterator[Runner]:
    from engine.runs.service import Runner
    from engine.runtime import Engine

    root = resolve_workspace(workspace)
    engine = Engine(root, overrides=ctx.find_root().obj["overrides"], watch_config=False)
    engine.start()
    runner: Runner | None = None
    try:
        runner = Runner(engine)
        yield runner
    finally:
        if runner is not None:
            runner.close()
        engine.stop()


class _Display:
    """Prints run events for one of the three audiences (terminal, pipe, JSON Lines)."""

    def __init__(self, *, json_: bool) -> None:
        self.json = json_
        self.live_ui = not json_ and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}
        self._total = 0
        self._done = 0
        self._live: Any = None
        self._console: Any = None
        #: Set by :func:`_drive` when the user pressed Ctrl-C during the run, also when the run
        #: finished before the cancellation reached it (``symphony watch`` stops either way).
        self.interrupted = False
        #: The run's cancel event while :func:`_drive` runs it: a recovery prompt gives up
        #: (answers abort) when it is set.
        self.cancel: threading.Event | None = None

    def start(self, title: str) -> None:
        if not self.live_ui:
            return
        from rich.console import Console
        from rich.live import Live

        self._console = Console(stderr=True)
        self._title = title
        self._live = Live(
            self._render(), console=self._console, refresh_per_second=8, transient=True
        )
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_column()
        grid.add_row(
            ProgressBar(total=max(self._total, 1), completed=self._done, width=30),
            Text(f"{self._done}/{self._total} steps · {self._title}"),
        )
        now = time.monotonic()
        lines = [
            Text(f"  ⟳ {sid}  {now - t0:5.1f} s", style="cyan")
            for sid, t0 in sorted(self._running.items(), key=lambda kv: kv[1])
        ]
        return Group(grid, *lines)

    def event(self, event: Event) -> None:
        from engine.runs.messages import RunStarted, StepStateChanged

        with self._lock:
            if self.json:
                data = msgspec.to_builtins(event)
                data = {"event": type(event).__name__, **data}
                sys.stdout.write(json.dumps(data, sort_keys=True, default=str) + "\n")
                sys.stdout.flush()
                return
            if isinstance(event, RunStarted):
                self._total = len(event.steps)
            elif isinstance(event, StepStateChanged):
                if event.state == "running":
                    self._running[event.step_id] = time.monotonic()
                elif event.state in _MARK:
                    self._running.pop(event.step_id, None)
                    self._done += 1
                    self._finished_line(event)
            if self._live is not None:
                self._live.update(self._render())

    def ask_recovery(self, step_id: str, error: str) -> str:
        """Ask what to do about a failed step (retry / skip / abort); runs on the run's thread."""
        with self._lock:
            live = self._live
            if live is not None:
                live.stop()
            try:
                first = error.splitlines()[0][:200] if error else "failed"
                sys.stderr.write(f"step {step_id} failed: {first}\n")
                while True:
                    sys.stderr.write("[r]etry, [s]kip and go on, [a]bort? ")
                    sys.stderr.flush()
                    line = self._read_answer()
                    if line is None:  # Ctrl-C, SIGTERM or SIGHUP while asking
                        sys.stderr.write("\n")
                        return "abort"
                    answer = line.strip().lower()
                    if not answer:  # end of input: do not guess
                        return "abort"
                    for choice in ("retry", "skip", "abort"):
                        if choice.startswith(answer):
                            return choice
            finally:
                if live is not None:
                    live.start()

    def _read_answer(self) -> str | None:
        """A line from stdin, or None as soon as the run is cancelled (the prompt runs on the
        run's thread: blocking in readline would keep the cancellation from the steps)."""
        while self.cancel is None or not self.cancel.is_set():
            try:
                ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            except (OSError, ValueError):  # not selectable: read as before
                return sys.stdin.readline()
            if ready:
                return sys.stdin.readline()
        return None

    def _finished_line(self, event: Any) -> None:
        took = f"{event.duration_ms / 1000:.1f} s" if event.duration_ms is not None else ""
        state = "cached" if event.cached else event.state
        reason = f"  {event.error.splitlines()[0][:160]}" if event.error else ""
        line = f"{_MARK.get(state, '?')} {event.step_id:<16} {state:<9} {took:>7}{reason}"
        if self._console is not None:
            style = {"failed": "red", "crashed": "red", "cached": "dim", "skipped": "dim"}
            self._console.print(line, style=style.get(state, ""), highlight=False)
        else:
            out(line)


#: Signals that cancel a run like Ctrl-C does: ``kill``, ``symphony runs cancel``, and the
#: terminal closing (SIGHUP; the steps run in sessions of their own, so only Symphony hears it).
TERM_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _drive(run: MelodyRun, display: _Display, *, title: str) -> RunSummary:
    """Execute on a worker thread; Ctrl-C / SIGTERM / SIGHUP cancel, a second Ctrl-C exits at
    once."""
    cancel = threading.Event()
    display.cancel = cancel
    done = threading.Event()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["summary"] = run.execute(cancel)
        except BaseException as e:
            result["error"] = e
        finally:
            done.set()

    def on_term(_sig: int, _frame: Any) -> None:
        cancel.set()
        display.interrupted = True

    previous = {sig: signal.signal(sig, on_term) for sig in TERM_SIGNALS}
    display.start(title)
    threading.Thread(target=work, name="melody-run", daemon=True).start()
    try:
        try:
            while not done.wait(0.1):
                pass
        except KeyboardInterrupt:
            cancel.set()
            display.interrupted = True
            say("cancelling… (Ctrl-C again to quit at once)")
            try:
                while not done.wait(0.1):
                    pass
            except KeyboardInterrupt:
                raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        display.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if "error" in result:
        raise result["error"]
    summary: RunSummary = result["summary"]
    return summary


def _finish(summary: RunSummary, display: _Display) -> None:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary.counts().items()))
    line = (
        f"run {summary.run_id} {summary.state.value} in {summary.duration_ms / 1000:.1f} s"
        f" ({counts})"
    )
    if not display.json:
        (say if display.live_ui else out)(line)
        if summary.error:
            say(f"symphony: {summary.error}")
    code = {"completed": 0, "cancelled": EXIT_INTERRUPTED}.get(summary.state.value, EXIT_FAILED)
    if code:
        raise typer.Exit(code)


def run(
    ctx: typer.Context,
    melody: Annotated[
        str | None,
        typer.Argument(metavar="MELODY", help="A melody NAME (.symphony/melodies/) or a file."),
    ] = None,
    param: ParamOption = None,
    json_: JsonOption = False,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="RUN", help="Continue an unfinished run.")
    ] = None,
    from_step: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="STEP",
            help="Re-run STEP and everything after it, reusing the latest run's other results.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run every step even if a cached result exists.")
    ] = False,
    no_prompt: Annotated[
        bool,
        typer.Option("--no-prompt", help="On a terminal, do not ask what to do when a step fails."),
    ] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Run a melody: steps in parallel where the DAG allows, cached results reused."""
    from symphony_cli.melody_cmd import parse_params

    if (melody is None) == (resume is None):
        raise UsageError("give a MELODY to run, or --resume RUN (not both)")
    if resume is not None and (from_step or param or force):
        raise UsageError("--resume continues a run as it was: no --from, --param or --force")
    display = _Display(json_=json_)
    with _runner(ctx, workspace) as runner:
        runner.listeners.append(display.event)
        if resume is not None:
            job, note = runner.resume(resume)
            if note:
                say(f"note: {note}")
        else:
            assert melody is not None
            loaded, _path = runner.load(melody)
            params = parse_params(param or [], loaded)
            job = runner.new_run(melody, params, from_step=from_step, force=force)
        if not json_ and not no_prompt and sys.stdin.isatty() and sys.stderr.isatty():
            job.on_failure = display.ask_recovery
        if not json_:
            say(f"run {job.run_id}: {job.melody.name} ({len(job.rows)} steps)")
        summary = _drive(job, display, title=job.melody.name)
    _finish(summary, display)


# --- runs ------------------------------------------------------------------------------------


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@runs_app.command("list")
def list_(
    ctx: typer.Context,
    melody: Annotated[str | None, typer.Option("--melody", help="Only this melody.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N runs.")] = 20,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Recent runs, newest first: id, melody, state, start, duration, step counts."""
    with _runner(ctx, workspace) as runner:
        rows = [runner.refresh(r) for r in runner.store.runs(melody=melody, limit=limit)]
        details = {r.id: runner.store.steps(r.id) for r in rows}
    if json_:
        emit_json(
            [
                {
                    "id": r.id,
                    "melody": r.melody,
                    "state": r.state.value,
                    "created": r.created,
                    "finished": r.finished,
                    "steps": _counts(details[r.id]),
                    "cached": sum(1 for s in details[r.id] if s.cached),
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out("no runs")
        return
    out(f"{'RUN':<26} {'MELODY':<14} {'STATE':<10} {'STARTED':<19} {'TIME':>7}  STEPS")
    for r in rows:
        took = f"{r.finished - r.created:.1f} s" if r.finished else "-"
        steps = ", ".join(f"{n} {s}" for s, n in sorted(_counts(details[r.id]).items()))
        out(f"{r.id:<26} {r.melody:<14} {r.state.value:<10} {_when(r.created)} {took:>7}  {steps}")


def _counts(steps: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.state.value] = counts.get(s.state.value, 0) + 1
    return counts


@runs_app.command()
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """One run: its steps (state, duration, attempts, cache, outputs) and the decisions."""
    with _runner(ctx, workspace) as runner:
        row = runner.refresh(runner.store.run(run_id))
        steps = runner.store.steps(row.id)
        decisions = runner.store.decisions(row.id)
    if json_:
        emit_json(
            {
                "id": row.id,
                "melody": row.melody,
                "path": row.path,
                "state": row.state.value,
                "params": row.params,
                "definition_hash": row.definition_hash,
                "created": row.created,
                "finished": row.finished,
                "parent": row.parent,
                "from_step": row.from_step,
                "error": row.error,
                "steps": [
                    {
                        "id": s.step_id,
                        "uses": s.uses,
                        "state": s.state.value,
                        "attempts": s.attempts,
                        "duration_ms": s.duration_ms,
                        "cached": s.cached,
                        "extension": s.extension,
                        "artifact": s.artifact,
                        "outputs": s.outputs,
                        "error": s.error,
                    }
                    for s in steps
                ],
                "decisions": [
                    {
                        "step": d.step_id,
                        "kind": d.kind,
                        "choice": d.choice,
                        "rationale": d.rationale,
                        "alternatives": list(d.alternatives),
                        "ts": d.ts,
                    }
                    for d in decisions
                ],
            }
        )
        return
    took = f"{row.finished - row.created:.1f} s" if row.finished else "-"
    out(f"run {row.id}  {row.melody}  {row.state.value}  {_when(row.created)}  {took}")
    out(f"  melody:  {row.path} (sha256 {row.definition_hash[:12]}…)")
    if row.params:
        out(f"  params:  {json.dumps(row.params, sort_keys=True)}")
    if row.parent:
        out(f"  re-run from {row.from_step} of run {row.parent}")
    if row.error:
        out(f"  error:   {row.error}")
    out("  steps:")
    for s in steps:
        dur = f"{s.duration_ms / 1000:.2f} s" if s.duration_ms is not None else "-"
        cache = " (cached)" if s.cached else ""
        art = f"  artifact {s.artifact[:12]}" if s.artifact else ""
        out(
            f"    {_MARK.get(s.state.value, ' ')} {s.step_id:<16} {s.state.value:<9}{cache}"
            f" {dur:>8}  attempts {s.attempts}  {s.uses}"
            + (f" ({s.extension})" if s.extension else "")
            + art
        )
        if s.error:
            out(f"        {s.error.splitlines()[0][:200]}")
    if decisions:
        out("  decisions:")
        for d in decisions:
            alt = f" (alternatives: {', '.join(d.alternatives)})" if d.alternatives else ""
            out(f"    {d.step_id}: {d.kind} → {d.choice}: {d.rationale}{alt}")


@runs_app.command()
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    workspace: WorkspaceOption = Path(),
) -> None:
    """Cancel a running run (its process stops its steps and records it cancelled)."""
    import os

    from engine.runs.states import RunState

    with _runner(ctx, workspace) as runner:
        row = runner.refresh(runner.store.run(run_id))
        if row.state is not RunState.RUNNING:
            raise UsageError(f"run {row.id} is not running ({row.state.value})")
        os.kill(row.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and runner.owner_alive(row):
            if runner.store.run(row.id).state is not RunState.RUNNING:
                break
            time.sleep(0.1)
        final = runner.refresh(runner.store.run(row.id)).state
    say(f"run {row.id}: {final.value}")
    if final is RunState.RUNNING:
        raise typer.Exit(EXIT_FAILED)
