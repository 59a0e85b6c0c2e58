"""``symphony ask REQUEST``: plan a melody from plain words, show it, run it, report.

With no AI planner the conductor plans with rules (:mod:`engine.conductor.planner`): the request
is classified onto built-in templates (test, lint, fix, review, status, diff, search; explain
needs a model). The plan is printed — on stdout with ``--dry-run``, where it is the result, on
stderr otherwise — confirmed on a terminal unless ``--yes``, run exactly like ``symphony run``
(same live display, same JSON Lines events with ``--json``) and summarised on stdout: test
results with the failing tests, lint diagnostics, the diff stat, search matches.

Nothing ``ask`` plans commits or writes files, except ``fix`` (ruff's safe fixes).
Exit codes: those of ``run`` (0 completed, 1 failed, 2 usage, 130 cancelled), and 1 also when the
run completed but found problems (tests failed, lint diagnostics remain, the search failed).
A request ``ask`` cannot plan exits 2 with what it understands.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.types.errors import EXIT_FAILED, Interrupted, UsageError
from symphony_cli.output import WorkspaceOption, out, resolve_workspace, say
from symphony_cli.run_cmd import JsonOption, _Display, _drive, _finish, _runner

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from engine.conductor.planner import Plan
    from engine.runs.scheduler import RunSummary
    from engine.runs.store import StepRow
    from engine.runtime import Engine

#: Lines of a listing (matches, diagnostics, changed paths) shown before "… N more".
MAX_LINES = 50


def ask(
    ctx: typer.Context,
    request: Annotated[
        str, typer.Argument(metavar="REQUEST", help="What to do, in plain words (quote it).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run the plan without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and run nothing.")
    ] = False,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Apply the file changes the plan proposes (behind a checkpoint; `symphony undo`"
            " restores them). Without it they are shown as diffs and nothing is written.",
        ),
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Plan a melody from a request ("run the tests and lint"), show it, run it, report."""
    from engine.conductor.planner import classify, understood
    from engine.config import load_config

    root = resolve_workspace(workspace)
    # Without a model only the rules plan: refuse what they cannot read before touching anything.
    models = load_config(root, overrides=_overrides(ctx)).config.aide.models
    if not models and not classify(request, workspace=root):
        raise UsageError(f"ask did not understand {request!r}; it understands: {understood()}")
    if dry_run:
        with _engine(ctx, root) as engine:
            plan = _plan(engine, request, root)
        if json_:
            _json_line({"event": "AskPlan", "plan": plan.to_dict()})
        else:
            _show(plan, out)
        return
    display = _Display(json_=json_)
    with _runner(ctx, root) as runner:
        plan = _plan(runner.engine, request, root)
        assert plan.melody is not None
        if json_:
            _json_line({"event": "AskPlan", "plan": plan.to_dict()})
        else:
            _show(plan, say)
        if not yes and sys.stdin.isatty() and not _confirm("Run this plan?"):
            say("not run")
            return
        runner.listeners.append(display.event)
        job = runner.new_run(plan.melody, {}, source=f"ask: {request}")
        if not json_:
            say(f"run {job.run_id}: ask ({len(job.rows)} steps)")
        summary = _drive(job, display, title="ask")
        # Changes are written only by a run that went through: not after Ctrl-C or a failure.
        whole = summary.state.value == "completed" and not display.interrupted
        if apply and not whole and not json_:
            say(f"the run {summary.state.value}: its proposed changes are shown, not applied")
        _changes(runner.engine, summary, request, apply=apply and whole, json_=json_)
    problems = _problems(summary)
    if json_:
        _json_line(
            {
                "event": "AskReport",
                "plan": plan.to_dict(),
                "run_id": summary.run_id,
                "state": summary.state.value,
                "outputs": {s.step_id: s.outputs for s in summary.steps},
                "problems": problems,
            }
        )
    else:
        for line in _report(summary):
            out(line)
    _finish(summary, display)
    if problems:
        if not json_:
            say(f"problems: {'; '.join(problems)}")
        raise typer.Exit(EXIT_FAILED)


# --- proposed changes ----------------------------------------------------------------------


def _confirm(question: str) -> bool:
    """Ask yes/no (yes by default); end of input is no, Ctrl-C exits 130 like a run's."""
    try:
        return typer.confirm(question, True, err=True)
    except typer.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise Interrupted("interrupted at the prompt; nothing was run") from None
        return False


def _changes(
    engine: Engine, summary: RunSummary, request: str, *, apply: bool, json_: bool
) -> None:
    """The file changes the run's steps proposed (``llm.edit``): shown as diffs, or applied
    with ``--apply``."""
    from engine.changes.from_runs import proposed_changes
    from engine.pit.artifacts.models import Producer
    from symphony_cli.changes import apply_or_preview

    state_dir = str(engine.config.core.state_dir)
    change_set = proposed_changes(
        engine.workspace,
        [s.outputs for s in summary.steps if s.outputs],
        title=f"ask: {request}",
        state_dir=state_dir,
    )
    if change_set is None:
        return
    checkpoint = apply_or_preview(
        change_set,
        engine.workspace,
        apply=apply,
        json_=json_,
        state_dir=state_dir,
        store=engine.pit.store() if apply else None,
        producer=Producer(run=summary.run_id, extension="symphony.ask") if apply else None,
        keep=engine.config.aide.keep_checkpoints,
    )
    if not json_:
        if checkpoint is None:
            say(
                f"{len(change_set.changes)} proposed change(s) not applied: run again with"
                " --apply (cached steps cost nothing), or review them per file in the TUI"
            )
        else:
            say(f"applied; `symphony undo` restores the files (checkpoint {checkpoint.id})")


# --- planning ------------------------------------------------------------------------------


def _overrides(ctx: typer.Context) -> list[str]:
    obj = ctx.find_root().obj
    return list(obj.get("overrides", [])) if isinstance(obj, dict) else []


@contextmanager
def _engine(ctx: typer.Context, root: Path) -> Iterator[Engine]:
    """A started engine without the run store (``--dry-run`` leaves no trace)."""
    from engine.runtime import Engine

    engine = Engine(root, overrides=_overrides(ctx), watch_config=False)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def _plan(engine: Engine, request: str, root: Path) -> Plan:
    """The plan for the engine's enabled step types: the configured model's (the maestro),
    or the rules' when no model is configured or the model could not plan.

    Raises:
        UsageError: nothing in the request can be planned (the reasons are in the message).
    """
    from engine.conductor.model_planner import plan_request

    step_types = engine.extensions.step_specs()
    result = plan_request(request, workspace=root, step_types=step_types, models=engine.models)
    if result.melody is None:
        raise UsageError("; ".join(result.unsupported) or f"nothing to do for {request!r}")
    return result


def _json_line(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def _show(plan: Plan, write: Callable[[str], None]) -> None:
    assert plan.melody is not None
    write(f"plan for {plan.request!r}:")
    width = max(len(s.id) for s in plan.melody.steps)
    for s in plan.melody.steps:
        needs = f"  after {', '.join(s.needs)}" if s.needs else ""
        args = json.dumps(s.with_, ensure_ascii=False)
        write(f"  {s.id:<{width}}  {s.uses:<10}  {args}{needs}")
    write("why:")
    for line in plan.rationale.splitlines():
        write(f"  {line}")
    for note in plan.unsupported:
        write(f"not planned: {note}")


# --- reporting -----------------------------------------------------------------------------


def _problems(summary: RunSummary) -> list[str]:
    """What a completed run found wrong (a failed run speaks for itself)."""
    problems: list[str] = []
    for row in summary.steps:
        o = row.outputs or {}
        if row.uses == "pytest.run" and o.get("status") in ("failed", "error"):
            problems.append(f"{row.step_id}: {o.get('summary') or o['status']}")
        elif row.uses == "ruff.check" and o.get("count"):
            problems.append(f"{row.step_id}: {_issues(o['count'])}")
        elif row.uses == "shell.run" and (o.get("exit_code") or 0) >= 2:
            problems.append(f"{row.step_id}: exit status {o['exit_code']}")
    return problems


def _issues(n: int) -> str:
    return f"{n} lint issue{'s' if n != 1 else ''}"


def _report(summary: RunSummary) -> list[str]:
    lines: list[str] = []
    for row in summary.steps:
        if row.outputs is None:
            reason = f": {row.error.splitlines()[0][:200]}" if row.error else ""
            lines.append(f"{row.step_id}: {row.state.value}{reason}")
            continue
        render = _RENDER.get(row.uses)
        lines += render(row) if render else [f"{row.step_id}: {row.state.value}"]
    return lines


def _limited(items: list[str], indent: str = "  ") -> list[str]:
    shown = [indent + item for item in items[:MAX_LINES]]
    if len(items) > MAX_LINES:
        shown.append(f"{indent}… {len(items) - MAX_LINES} more")
    return shown


def _pytest(row: StepRow) -> list[str]:
    o = row.outputs or {}
    lines = [f"{row.step_id}: {o.get('summary') or o.get('status')}"]
    failures = []
    for f in o.get("failures") or []:
        message = (f.get("message") or "").strip().splitlines()
        # pytest's "E   assert 4 == 5" line says most; else the last line ("file:line: Error").
        errors = [ln[1:].strip() for ln in message if ln.startswith("E ")]
        why = errors[0] if errors else message[-1] if message else ""
        first = f" - {why[:160]}" if why else ""
        failures.append(f"{f.get('outcome', 'failed').upper()} {f.get('nodeid')}{first}")
    return lines + _limited(failures)


def _ruff(row: StepRow) -> list[str]:
    o = row.outputs or {}
    count = int(o.get("count") or 0)
    what = "left after fixing" if row.step_id == "fix" else "found"
    if not count:
        return [f"{row.step_id}: no lint issues {what}"]
    fixable = f", {o['fixable']} fixable with `fix`" if o.get("fixable") else ""
    head = f"{row.step_id}: {_issues(count)} {what}{fixable}"
    report = [ln for ln in str(o.get("report") or "").splitlines() if ln.strip()]
    return [head, *_limited(report)]


def _git_status(row: StepRow) -> list[str]:
    o = row.outputs or {}
    branch = o.get("branch") or "(detached HEAD)"
    entries = o.get("entries") or []
    if o.get("clean"):
        return [f"{row.step_id}: on {branch}, nothing changed"]
    paths = [f"{e.get('index', '.')}{e.get('worktree', '.')} {e.get('path')}" for e in entries]
    return [f"{row.step_id}: on {branch}, {len(entries)} changed paths", *_limited(paths)]


def _git_diff(row: StepRow) -> list[str]:
    o = row.outputs or {}
    files = o.get("files") or []
    if o.get("empty") or not files:
        return [f"{row.step_id}: no changes"]
    stat = [
        f"{f.get('path')} | " + ("binary" if f.get("binary") else f"+{f['added']} -{f['deleted']}")
        for f in files
    ]
    head = f"{row.step_id}: {len(files)} files changed, +{o.get('added')} -{o.get('deleted')}"
    return [head, *_limited(stat)]


def _glob(row: StepRow) -> list[str]:
    o = row.outputs or {}
    paths = list(o.get("paths") or [])
    more = " (truncated)" if o.get("truncated") else ""
    return [f"{row.step_id}: {len(paths)} files{more}", *_limited(paths)]


def _shell(row: StepRow) -> list[str]:
    o = row.outputs or {}
    code = o.get("exit_code")
    matches = str(o.get("stdout") or "").splitlines()
    if code == 1 and not matches:
        return [f"{row.step_id}: no matches"]
    if code not in (0, 1):
        err = str(o.get("stderr") or "").strip().splitlines()
        return [f"{row.step_id}: exit status {code}" + (f": {err[0]}" if err else "")]
    return [f"{row.step_id}: {len(matches)} matching lines", *_limited(matches)]


_RENDER: dict[str, Callable[[StepRow], list[str]]] = {
    "pytest.run": _pytest,
    "ruff.check": _ruff,
    "git.status": _git_status,
    "git.diff": _git_diff,
    "fs.glob": _glob,
    "shell.run": _shell,
}
