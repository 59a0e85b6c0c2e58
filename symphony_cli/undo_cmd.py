"""``symphony undo [CHECKPOINT]``: restore the files an applied change set touched.

Without CHECKPOINT the newest checkpoint not yet undone is restored, so repeated ``undo`` walks
back through the applied changes. ``--list`` shows the checkpoints. What was restored is data
(stdout); exit 2 when there is nothing to undo or a file changed since (``--force`` restores it
anyway, keeping its current content in the checkpoint).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from symphony_cli.output import WorkspaceOption, emit_json, load_workspace_config, out, say

if TYPE_CHECKING:
    from engine.changes.model import Checkpoint, UndoResult

_ACTIONS = {
    "restored": "restored {path}",
    "recreated": "recreated {path} (the change deleted it)",
    "deleted": "deleted {path} (the change created it)",
    "unchanged": "unchanged {path} (already as before)",
}


def undo(
    ctx: typer.Context,
    checkpoint: Annotated[
        str,
        typer.Argument(
            metavar="[CHECKPOINT]", help="Checkpoint id or prefix (default: the newest applied)."
        ),
    ] = "",
    list_: Annotated[bool, typer.Option("--list", help="List the checkpoints and exit.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore files even if they changed since.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Undo applied file changes: restore the files of a checkpoint exactly as they were."""
    import msgspec

    from engine.changes.checkpoints import list_checkpoints
    from engine.changes.checkpoints import undo as undo_checkpoint

    root, loaded = load_workspace_config(ctx, workspace)
    state_dir = loaded.config.core.state_dir
    if list_:
        found = list_checkpoints(root, state_dir)
        if json_:
            emit_json([_summary(cp) for cp in found])
        elif not found:
            say("no checkpoints in this workspace")
        for cp in [] if json_ else found:
            out(_line(cp))
        return
    result = undo_checkpoint(root, checkpoint, force=force, state_dir=state_dir)
    if json_:
        emit_json(
            {
                "checkpoint": _summary(result.checkpoint),
                "files": msgspec.to_builtins(result.files),
                "forced": list(result.forced),
            }
        )
        return
    _report(result, root / state_dir)


def _summary(cp: Checkpoint) -> dict[str, object]:
    return {
        "id": cp.id,
        "state": cp.state.value,
        "title": cp.title,
        "created": cp.created,
        "undone_at": cp.undone_at or None,
        "change_set": cp.change_set,
        "files": [{"path": f.path, "kind": f.kind.value} for f in cp.files],
        "artifacts": cp.artifacts,
    }


def _line(cp: Checkpoint) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(cp.created))
    files = f"{len(cp.files)} file{'s' if len(cp.files) != 1 else ''}"
    title = f"  {cp.title}" if cp.title else ""
    return f"{cp.id}  {cp.state.value:<8}  {when}  {files}{title}"


def _report(result: UndoResult, state: Path) -> None:
    cp = result.checkpoint
    for f in result.files:
        out(_ACTIONS.get(f.action, "{path}: " + f.action).format(path=f.path))
    title = f" ({cp.title})" if cp.title else ""
    say(f"undid checkpoint {cp.id}{title}: {len(result.files)} files")
    if result.forced:
        kept = state / "checkpoints" / cp.id / "overwritten"
        say(f"overwrote changes made since to {', '.join(result.forced)} (kept in {kept})")
