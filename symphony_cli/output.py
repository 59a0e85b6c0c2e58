"""Output conventions: stdout is data, stderr is narration and errors (SPEC §1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from engine.types.errors import ConfigErrors, SymphonyError, UsageError

if TYPE_CHECKING:
    from engine.config import LoadedConfig

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (default: current folder).")
]


def resolve_workspace(path: Path) -> Path:
    """The absolute workspace folder for PATH, or a UsageError naming what is wrong."""
    resolved = path.expanduser().resolve()
    if not resolved.exists():
        raise UsageError(f"{path}: no such folder")
    if not resolved.is_dir():
        raise UsageError(f"{path}: not a folder")
    return resolved


def load_workspace_config(ctx: typer.Context, workspace: Path) -> tuple[Path, LoadedConfig]:
    """Resolve the workspace and load its configuration with the root ``--set`` overrides."""
    from engine.config import load_config
    from engine.logs import configure_logging

    root = resolve_workspace(workspace)
    loaded = load_config(root, overrides=ctx.find_root().obj["overrides"])
    configure_logging(loaded.config.core.log_level, to_file=False)
    return root, loaded


def out(text: str = "") -> None:
    """Write a line of data to stdout."""
    sys.stdout.write(text + "\n")


def say(text: str) -> None:
    """Write a line of narration to stderr."""
    sys.stderr.write(text + "\n")


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(error: SymphonyError, prog: str = "symphony") -> NoReturn:
    """Report an error on stderr (as ``PROG: error: …``) and exit with its exit code."""
    if isinstance(error, ConfigErrors):
        say(f"{prog}: error: invalid configuration ({len(error.errors)} problems):")
        for e in error.errors:
            say(f"  {e.message}")
    else:
        say(f"{prog}: error: {error.message}")
    sys.stdout.flush()
    raise SystemExit(error.exit_code)
