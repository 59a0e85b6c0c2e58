"""``symphony doctor``: start the engine headless and print every component's health."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.types.errors import BootstrapError
from engine.types.messages import ComponentHealth, HealthReport, HealthStatus
from symphony_cli.output import WorkspaceOption, emit_json, out, resolve_workspace

if TYPE_CHECKING:
    from engine.bootstrap import BootReport

_MARK = {HealthStatus.HEALTHY: "ok", HealthStatus.DEGRADED: "!!", HealthStatus.UNHEALTHY: "XX"}


def doctor(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Check every component's health; exit 1 if one is unhealthy."""
    from engine.bootstrap.components import environment_health
    from engine.runtime import Engine
    from symphony_tui.theme_files import themes_health

    root = resolve_workspace(workspace)
    engine = Engine(root, overrides=ctx.find_root().obj["overrides"], watch_config=False)
    wanted: str | None = None
    try:
        engine.start()
        components = list(engine.health().components)
        wanted = engine.config.ide.theme
    except BootstrapError:
        components = [*_failed_start(engine.report), environment_health()]
    finally:
        engine.stop()
    components.append(themes_health(root, wanted=wanted))
    report = engine.report
    if json_:
        emit_json(
            {
                "workspace": str(root),
                "status": HealthReport(components=tuple(components)).status.value,
                "components": [_as_dict(c) for c in components],
                "phases": [
                    {"name": r.name, "status": r.status, "duration_ms": round(r.duration_ms, 2)}
                    for r in report.results
                ],
            }
        )
    else:
        out(f"Symphony doctor: {root}")
        for c in components:
            out(f"  [{_MARK[c.status]}] {c.name:<12} {c.status.value:<10} {_summary(c)}".rstrip())
            for reason in c.reasons:
                out(f"         - {reason}")
        timings = ", ".join(f"{r.name} {r.duration_ms:.1f}" for r in report.results)
        out(f"start-up {report.duration_ms:.1f} ms ({timings})")
    if any(c.status is HealthStatus.UNHEALTHY for c in components):
        raise typer.Exit(1)


def _failed_start(report: BootReport) -> list[ComponentHealth]:
    """Turn a failed start-up into per-phase health entries."""
    out_: list[ComponentHealth] = []
    for r in report.results:
        if r.status == "failed":
            out_.append(
                ComponentHealth(
                    name=r.name, status=HealthStatus.UNHEALTHY, reasons=(r.error or "failed",)
                )
            )
        elif r.status == "skipped":
            out_.append(
                ComponentHealth(
                    name=r.name,
                    status=HealthStatus.UNHEALTHY,
                    reasons=(f"not started: phase '{report.failed_phase}' failed",),
                )
            )
        elif r.health is not None:
            out_.append(r.health)
    return out_


def _summary(c: ComponentHealth) -> str:
    """A short line of the most useful details (none for a component that did not start)."""
    d = c.detail
    if c.status is HealthStatus.UNHEALTHY:
        return ""
    if c.name == "config":
        files = d.get("files") or []
        return "files: " + ", ".join(files) if files else "defaults only (no config files)"
    if c.name == "workspace":
        return str(d.get("path", ""))
    if c.name == "environment":
        return f"Python {d.get('python')}, TERM={d.get('term') or '-'}"
    if c.name == "themes":
        return ", ".join(d.get("names", []))
    if c.name == "types":
        return f"{d.get('message_types')} message types"
    if c.name == "extensions":
        return (
            f"{d.get('active', 0)} active, {d.get('failed', 0)} failed of {d.get('extensions', 0)}"
        )
    if c.name == "bus":
        return f"{d.get('subscriptions', '?')} subscriptions"
    return ""


def _as_dict(c: ComponentHealth) -> dict[str, Any]:
    return {
        "name": c.name,
        "status": c.status.value,
        "reasons": list(c.reasons),
        "detail": c.detail,
    }
