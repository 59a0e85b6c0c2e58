"""``symphony config show|validate``: inspect and check the layered configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from symphony_cli.output import WorkspaceOption, emit_json, load_workspace_config, out, say

app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)


def _load(ctx: typer.Context, workspace: Path) -> Any:
    return load_workspace_config(ctx, workspace)[1]


def _literal(value: Any) -> str:
    """A TOML-like literal for one value (JSON is a subset for scalars and lists)."""
    return json.dumps(value, default=str)


@app.command()
def show(
    ctx: typer.Context,
    origin: Annotated[
        bool, typer.Option("--origin", help="Show which layer set each value.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="Only keys starting with this prefix.")
    ] = None,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Print the merged configuration (defaults < user < project < env < --set)."""
    loaded = _load(ctx, workspace)
    flat = loaded.flat()
    keys = sorted(k for k in flat if key is None or k == key or k.startswith(key + "."))
    if key is not None and not keys:
        from engine.types.errors import UsageError

        raise UsageError(f"no configuration key starts with {key!r}")
    if json_:
        if origin:
            emit_json(
                {
                    k: {
                        "value": flat[k],
                        "layer": loaded.origins[k].layer,
                        "source": loaded.origins[k].source,
                    }
                    for k in keys
                }
            )
        else:
            emit_json({k: flat[k] for k in keys})
        return
    width = max((len(k) for k in keys), default=0)
    for k in keys:
        line = f"{k} = {_literal(flat[k])}"
        if origin:
            o = loaded.origins[k]
            where = o.layer if o.source in ("", "built-in") else f"{o.layer}: {o.source}"
            line = f"{line:<{width + 30}}  # {where}"
        out(line.rstrip())
    if origin:
        for f in loaded.files:
            state = "" if f.exists else " (not present)"
            say(f"{f.layer} file: {f.path}{state}")


@app.command()
def validate(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Check every configuration layer; exit 2 naming file, key and reason if one is invalid."""
    loaded = _load(ctx, workspace)
    present = [f for f in loaded.files if f.exists]
    names = ", ".join(str(f.path) for f in present) or "no configuration files, defaults only"
    out(f"configuration is valid ({names})")
