"""``symphony ext …``: list, inspect, enable, validate, audit and try extensions (install,
update, remove and search are in :mod:`symphony_cli.ext_install_cmd`).

Commands that need the extensions start the engine headless (so the listing shows what the TUI
would load, failures included); ``validate`` and ``audit`` do not.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from engine.types.errors import Cancelled, Interrupted, ManifestErrors, UsageError
from symphony_cli import ext_install_cmd
from symphony_cli.output import (
    WorkspaceOption,
    emit_json,
    load_workspace_config,
    out,
    resolve_workspace,
    say,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.extensions.lifecycle import ExtensionStatus
    from engine.extensions.manager import ExtensionManager
    from engine.runtime import Engine

app = typer.Typer(
    help="List, inspect, enable, try, install and remove extensions.", no_args_is_help=True
)
app.command()(ext_install_cmd.install)
app.command()(ext_install_cmd.update)
app.command()(ext_install_cmd.remove)
app.command()(ext_install_cmd.search)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArgument = Annotated[str, typer.Argument(help="Extension id, e.g. symphony.git.")]

_PERMISSION_ORDER = ("fs.read", "fs.write", "process", "env", "network", "models")


@contextmanager
def _engine(ctx: typer.Context, workspace: Path) -> Iterator[Engine]:
    from engine.runtime import Engine

    root = resolve_workspace(workspace)
    engine = Engine(root, overrides=ctx.find_root().obj["overrides"], watch_config=False)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def _permissions_line(status: ExtensionStatus) -> str:
    parts = []
    for name in _PERMISSION_ORDER:
        granted = status.permissions.get(name)
        if granted:
            parts.append(f"{name}={','.join(granted)}")
    return " ".join(parts) or "none"


def _state(status: ExtensionStatus) -> str:
    if not status.enabled and status.state != "failed":
        return "disabled"
    return str(status.state)


@app.command("list")
def list_(
    ctx: typer.Context, json_: JsonOption = False, workspace: WorkspaceOption = Path()
) -> None:
    """Every extension with its type, version, state and permissions."""
    with _engine(ctx, workspace) as engine:
        statuses = engine.extensions.statuses()
    if json_:
        emit_json([msgspec.to_builtins(s) for s in statuses])
        return
    if not statuses:
        out("no extensions")
        return
    width = max(len(s.id) for s in statuses)
    out(f"{'ID':<{width}}  {'TYPE':<10} {'VERSION':<8} {'STATE':<9} {'SOURCE':<11} PERMISSIONS")
    for s in statuses:
        out(
            f"{s.id:<{width}}  {s.type:<10} {s.version:<8} {_state(s):<9} {s.source:<11}"
            f" {_permissions_line(s)}"
        )
        if s.reason:
            out(f"{'':<{width}}  ↳ {s.reason}")


@app.command()
def info(
    ctx: typer.Context,
    ext_id: IdArgument,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """One extension: manifest, state, permissions, step types and call metrics."""
    from engine.extensions.service import open_db

    with _engine(ctx, workspace) as engine:
        manager = engine.extensions
        status = manager.status(ext_id)
        manifest = manager.manifest(ext_id) if status.version != "?" else None
        db = open_db(engine.config)
    try:
        stats = db.call_stats(ext_id)
    finally:
        db.close()
    data: dict[str, Any] = msgspec.to_builtins(status)
    data["metrics"] = {
        "calls": stats.calls,
        "errors": stats.errors,
        "p50_ms": stats.p50_ms,
        "p95_ms": stats.p95_ms,
        "p99_ms": stats.p99_ms,
    }
    if manifest is not None:
        data["steps"] = {
            s.type: {
                "title": s.title,
                "description": s.description,
                "inputs": s.input_schema(),
                "outputs": {k: v.type for k, v in s.outputs.items()},
            }
            for s in manifest.contributes.steps
        }
    if json_:
        emit_json(data)
        return
    out(f"{status.name} ({status.id}) {status.version}")
    if status.description:
        out(f"  {status.description}")
    out(f"  type:       {status.type}")
    out(f"  state:      {_state(status)}" + (f" ({status.reason})" if status.reason else ""))
    out(f"  source:     {status.source}: {status.path}")
    isolation = status.isolation
    if isolation == "process":
        from engine.extensions.host import sandbox_problem

        problem = sandbox_problem()
        isolation += f" (unsandboxed: {problem})" if problem else " (sandboxed with bubblewrap)"
    out(f"  isolation:  {isolation}")
    out(f"  manifest:   sha256 {status.manifest_hash}")
    out(f"  activation: {', '.join(status.activation) or 'lazy (first use)'}")
    out("  permissions:")
    for name in _PERMISSION_ORDER:
        out(f"    {name:<9} {', '.join(status.permissions.get(name, [])) or '-'}")
    if manifest is not None and manifest.contributes.steps:
        out("  step types:")
        for s in manifest.contributes.steps:
            out(f"    {s.type}: {s.title or s.description}")
            for name, spec in s.inputs.items():
                flag = " (required)" if spec.required else ""
                default = "" if spec.default is None else f" = {json.dumps(spec.default)}"
                out(f"      with.{name}: {spec.type}{flag}{default}  {spec.description}".rstrip())
            outs = ", ".join(f"{k}: {v.type}" for k, v in s.outputs.items())
            out(f"      outputs: {outs or '-'}")
    out(
        f"  calls:      {stats.calls} ({stats.errors} failed)"
        + (
            f"; latency p50 {stats.p50_ms:.1f} ms, p95 {stats.p95_ms:.1f} ms,"
            f" p99 {stats.p99_ms:.1f} ms"
            if stats.p50_ms is not None and stats.p95_ms is not None and stats.p99_ms is not None
            else ""
        )
    )


def _set_enabled(ctx: typer.Context, ext_id: str, enabled: bool, workspace: Path) -> None:
    with _engine(ctx, workspace) as engine:
        status = engine.extensions.set_enabled(ext_id, enabled)
    word = "enabled" if enabled else "disabled"
    extra = f": {status.reason}" if status.state == "failed" else ""
    say(f"{ext_id} {word} ({_state(status)}{extra})")


@app.command()
def enable(ctx: typer.Context, ext_id: IdArgument, workspace: WorkspaceOption = Path()) -> None:
    """Enable an extension and accept its current manifest (re-pins its hash)."""
    _set_enabled(ctx, ext_id, True, workspace)


@app.command()
def disable(ctx: typer.Context, ext_id: IdArgument, workspace: WorkspaceOption = Path()) -> None:
    """Disable an extension (it stays installed and is never activated)."""
    _set_enabled(ctx, ext_id, False, workspace)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A symphony-extension.toml or its folder.")],
    json_: JsonOption = False,
) -> None:
    """Check a manifest; print every problem with file, key and reason (exit 2)."""
    from engine.extensions.manifest import load_manifest
    from engine.types.errors import ManifestError

    try:
        manifest, digest = load_manifest(path)
    except ManifestError as e:
        errors = e.errors if isinstance(e, ManifestErrors) else [e]
        if json_:
            emit_json(
                {
                    "valid": False,
                    "errors": [
                        {"file": x.source, "key": x.key, "reason": x.reason} for x in errors
                    ],
                }
            )
        else:
            for x in errors:
                say(f"symphony: error: {x.message}")
        raise typer.Exit(e.exit_code) from None
    if json_:
        emit_json({"valid": True, "id": manifest.id, "sha256": digest})
    else:
        steps = ", ".join(s.type for s in manifest.contributes.steps) or "no step types"
        out(f"{manifest.id} {manifest.extension.version}: valid ({steps})")


@app.command()
def audit(
    ctx: typer.Context,
    ext_id: Annotated[str | None, typer.Argument(help="Only this extension.")] = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only refused requests.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N records.")] = 50,
    all_: Annotated[
        bool, typer.Option("--all", help="Every workspace's records, not just this one's.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Permission decisions extensions caused in this workspace, newest last."""
    from engine.extensions.service import open_db

    root, loaded = load_workspace_config(ctx, workspace)
    db = open_db(loaded.config)
    try:
        records = db.audit(
            ext_id, denied_only=denied, limit=limit, workspace=None if all_ else str(root)
        )
    finally:
        db.close()
    if json_:
        emit_json(
            [
                {
                    "ts": r.ts,
                    "workspace": r.workspace,
                    "extension": r.extension,
                    "permission": r.permission,
                    "target": r.target,
                    "decision": r.decision,
                    "detail": r.detail,
                }
                for r in records
            ]
        )
        return
    if not records:
        out("no audit records")
        return
    for r in records:
        when = datetime.fromtimestamp(r.ts).strftime("%Y-%m-%d %H:%M:%S")
        detail = f"  ({r.detail})" if r.detail else ""
        where = f"  [{r.workspace}]" if all_ else ""
        out(
            f"{when}  {r.decision:<7} {r.extension:<18} {r.permission:<13} {r.target}{detail}"
            f"{where}"
        )


def parse_with(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON is taken as JSON, else as a string."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--with {item!r}: expected KEY=VALUE")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


@app.command()
def run(
    ctx: typer.Context,
    step_type: Annotated[str, typer.Argument(help="Step type, e.g. shell.run.")],
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="Input KEY=VALUE (VALUE as JSON when it parses); repeat."),
    ] = None,
    extension: Annotated[
        str | None, typer.Option("--extension", help="Provider when several offer it.")
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Run one step type now, outside any melody, and print its outputs."""
    inputs = parse_with(with_ or [])
    with _engine(ctx, workspace) as engine:
        outcome = _call(engine.extensions, step_type, inputs, extension)
    if json_:
        emit_json(
            {
                "extension": outcome.extension,
                "step_type": outcome.step_type,
                "duration_ms": round(outcome.duration_ms, 2),
                "outputs": outcome.outputs,
            }
        )
        return
    for key, value in outcome.outputs.items():
        print_output(key, value)
    say(f"{outcome.step_type} ({outcome.extension}) done in {outcome.duration_ms:.0f} ms")


def print_output(key: str, value: Any) -> None:
    """One output for a reader: long text as an indented block, one list item or object
    entry per line, everything else as JSON on the key's line."""
    compact = partial(json.dumps, default=str, ensure_ascii=False)
    if isinstance(value, str) and ("\n" in value or len(value) > 60):
        out(f"{key}:")
        for line in value.rstrip("\n").splitlines():
            out(f"  {line}")
    elif isinstance(value, list) and value:
        out(f"{key}:")
        for item in value:
            out(f"  - {item if isinstance(item, str) else compact(item)}")
    elif isinstance(value, dict) and value:
        out(f"{key}:")
        for k, v in value.items():
            out(f"  {k}: {compact(v)}")
    else:
        out(f"{key}: {compact(value)}")


def _call(
    manager: ExtensionManager, step_type: str, inputs: dict[str, Any], extension: str | None
) -> Any:
    """Call on a worker thread so Ctrl-C cancels the step cleanly (its processes stopped)."""
    cancel = threading.Event()
    done = threading.Event()  # not Thread.join: after a KeyboardInterrupt it may not wait
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["outcome"] = manager.call(step_type, inputs, extension=extension, cancel=cancel)
        except BaseException as e:
            result["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name="ext-run", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        cancel.set()
        done.wait(10)
        raise Interrupted(f"{step_type} cancelled") from None
    error = result.get("error")
    if isinstance(error, Cancelled):
        raise Interrupted(str(error))
    if error is not None:
        raise error
    return result["outcome"]
