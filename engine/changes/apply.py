"""Apply the accepted changes of a change set as a group, behind a checkpoint.

Order of work, chosen so that a crash (kill -9) at any moment leaves either the old files or a
checkpoint undo can use:

1. check every accepted path (inside the workspace) and that every file is still exactly what
   the change was computed against — nothing is written if one is not;
2. take the checkpoint: copy the original bytes under ``checkpoints/<id>/files/``, then write its
   manifest atomically (state ``applying``); until the manifest exists no workspace file has
   been touched;
3. write each file atomically (temp file, fsync, rename) or delete it;
4. record the change set, its diff and the checkpoint as artifacts when a store is given;
5. rewrite the manifest atomically with state ``applied``.

A write that fails in step 3 rolls back the files already written, removes the checkpoint and
raises, naming the file. Must not import Textual.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from engine.changes.checkpoints import (
    FILES,
    checkpoint_lock,
    checkpoints_dir,
    keep_private,
    prune_incomplete,
    prune_old,
    remove_created_dirs,
    restore_file,
    save_manifest,
)
from engine.changes.diff import diff_text, is_binary, line_counts
from engine.changes.errors import ChangeConflict, UnsafePath
from engine.changes.model import (
    ChangeSet,
    Checkpoint,
    CheckpointFile,
    CheckpointState,
    FileChange,
    new_id,
    sha256,
)
from engine.changes.paths import FileState, check_path, read_state
from engine.files.atomic import NEW_FILE_MODE, write_atomic
from engine.instruments.secrets import redact, redact_bytes
from engine.types.errors import ArtifactError, SymphonyError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from engine.pit.artifacts.models import Producer
    from engine.pit.artifacts.store import ArtifactStore

__all__ = ["apply_changes", "select"]

log = logging.getLogger(__name__)


def select(change_set: ChangeSet, accepted: Iterable[str] | None) -> list[FileChange]:
    """The changes of ``accepted`` paths (all with None), in change-set order.

    Raises:
        UsageError: a path is accepted twice in the set, unknown, or nothing is accepted.
    """
    paths = change_set.paths
    if len(set(paths)) != len(paths):
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        raise UsageError(f"the change set changes a file twice: {', '.join(dupes)}")
    wanted = set(paths) if accepted is None else set(accepted)
    unknown = sorted(wanted - set(paths))
    if unknown:
        raise UsageError(f"not in the change set: {', '.join(unknown)}")
    chosen = [c for c in change_set.changes if c.path in wanted]
    if not chosen:
        raise UsageError("nothing to apply: no change was accepted")
    return chosen


def _missing_dirs(root: Path, target: Path) -> list[str]:
    """Folders between ``root`` and ``target`` that do not exist yet, outermost first."""
    missing: list[str] = []
    folder = target.parent
    while folder != root and not folder.exists():
        missing.append(folder.relative_to(root).as_posix())
        folder = folder.parent
    return list(reversed(missing))


def _write(target: Path, change: FileChange, state: FileState) -> None:
    if change.after is None:
        target.unlink()
        return
    write_atomic(target, change.after)
    target.chmod(_after_mode(change, state))


def _after_mode(change: FileChange, state: FileState) -> int:
    if change.mode is not None:
        return change.mode
    return state.mode if state.mode is not None else NEW_FILE_MODE


def apply_changes(
    workspace: Path,
    change_set: ChangeSet,
    accepted: Iterable[str] | None = None,
    *,
    state_dir: str = ".symphony",
    store: ArtifactStore | None = None,
    producer: Producer | None = None,
    inputs: Sequence[str] = (),
    keep: int | None = None,
) -> Checkpoint:
    """See :func:`_apply`; runs under the workspace's change lock, so two applies of changes
    to the same file cannot both pass the conflict check. ``keep`` (``aide.keep_checkpoints``):
    after the apply, only that many checkpoints stay (the new one among them)."""
    root = Path(os.path.realpath(workspace))
    with checkpoint_lock(root, state_dir):
        checkpoint = _apply(
            workspace,
            change_set,
            accepted,
            state_dir=state_dir,
            store=store,
            producer=producer,
            inputs=inputs,
        )
        if keep is not None:
            try:
                prune_incomplete(root, state_dir)  # folders a crash left while being taken
                prune_old(root, keep, state_dir)
            except OSError as e:  # the apply stands; old checkpoints stay for another time
                log.warning("could not remove old checkpoints: %s", e)
        return checkpoint


def _apply(
    workspace: Path,
    change_set: ChangeSet,
    accepted: Iterable[str] | None = None,
    *,
    state_dir: str = ".symphony",
    store: ArtifactStore | None = None,
    producer: Producer | None = None,
    inputs: Sequence[str] = (),
) -> Checkpoint:
    """Write the accepted changes atomically as a group, after taking a checkpoint.

    Args:
        workspace: the workspace folder.
        change_set: the proposed changes.
        accepted: the paths to apply (None: every change).
        state_dir: Symphony's state folder (``core.state_dir``); checkpoints go under it.
        store: when given, the change set, its diff and the checkpoint are recorded there with
            lineage (diff and checkpoint derive from the change set, which derives from
            ``inputs``).
        producer: what produced the changes (run, step, model), for the artifacts.
        inputs: artifact references the change set derives from.

    Returns:
        The checkpoint (state ``applied``); :func:`engine.changes.checkpoints.undo` takes its id.

    Raises:
        UnsafePath: a path is outside the workspace, a link, or a folder.
        ChangeConflict: files changed on disk since the change was proposed (nothing written).
        UsageError: nothing accepted, or a path not in the change set.
        SymphonyError: a write failed; the files already written were restored.
    """
    root = Path(os.path.realpath(workspace))
    chosen = select(change_set, accepted)
    targets = [check_path(root, c.path, state_dir=state_dir) for c in chosen]
    states: list[FileState] = []
    conflicts: list[str] = []
    for change, target in zip(chosen, targets, strict=True):
        try:
            state = read_state(target)
        except OSError as e:
            raise UsageError(f"{change.path}: cannot read: {e.strerror or e}") from e
        if state.folder:
            raise UnsafePath(f"{change.path}: a folder, not a file")
        if (None if state.data is None else sha256(state.data)) != change.before_sha256:
            conflicts.append(change.path)
        states.append(state)
    if conflicts:
        raise ChangeConflict(
            f"{', '.join(conflicts)} changed on disk since the change was proposed; "
            "nothing was applied (propose the change again)",
            tuple(conflicts),
        )

    cp_id = new_id()
    folder = checkpoints_dir(root, state_dir) / cp_id
    checkpoint = _take(root, folder, cp_id, change_set, chosen, targets, states)
    done: list[int] = []
    try:
        for index, (change, target, state) in enumerate(zip(chosen, targets, states, strict=True)):
            _write(target, change, state)
            done.append(index)
    except OSError as e:
        failed = chosen[len(done)].path
        _roll_back(root, folder, checkpoint, done, targets, states)
        raise SymphonyError(
            f"{failed}: cannot write: {e.strerror or e}; nothing was changed"
        ) from e
    artifacts = _record(store, change_set, chosen, checkpoint, producer, inputs)
    applied = msgspec.structs.replace(
        checkpoint, state=CheckpointState.APPLIED, artifacts=artifacts
    )
    save_manifest(folder, applied)
    return applied


def _take(
    root: Path,
    folder: Path,
    cp_id: str,
    change_set: ChangeSet,
    chosen: list[FileChange],
    targets: list[Path],
    states: list[FileState],
) -> Checkpoint:
    """Save the originals, then the manifest (last, atomically): the checkpoint exists."""
    entries: list[CheckpointFile] = []
    created_dirs: list[str] = []
    try:
        (folder / FILES).mkdir(parents=True)
        for index, (change, target, state) in enumerate(zip(chosen, targets, states, strict=True)):
            blob = ""
            if state.data is not None:
                blob = str(index)
                write_atomic(folder / FILES / blob, state.data)
                keep_private(folder / FILES / blob)
            else:
                created_dirs += [d for d in _missing_dirs(root, target) if d not in created_dirs]
            added, removed = line_counts(change)
            entries.append(
                CheckpointFile(
                    path=change.path,
                    kind=change.kind,
                    existed=state.data is not None,
                    mode=state.mode,
                    before_sha256=change.before_sha256,
                    after_sha256=None if change.after is None else sha256(change.after),
                    after_mode=None if change.after is None else _after_mode(change, state),
                    blob=blob,
                    added=added,
                    removed=removed,
                )
            )
        accepted = msgspec.structs.replace(change_set, changes=tuple(chosen))
        write_atomic(folder / "change-set.json", accepted.to_json())
        keep_private(folder / "change-set.json")
        checkpoint = Checkpoint(
            id=cp_id,
            change_set=change_set.id,
            title=change_set.title,
            created=time.time(),
            state=CheckpointState.APPLYING,
            files=tuple(entries),
            created_dirs=tuple(created_dirs),
        )
        save_manifest(folder, checkpoint)
    except OSError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise SymphonyError(f"cannot take a checkpoint in {folder}: {e.strerror or e}") from e
    return checkpoint


def _roll_back(
    root: Path,
    folder: Path,
    checkpoint: Checkpoint,
    done: list[int],
    targets: list[Path],
    states: list[FileState],
) -> None:
    """Restore the files written so far and drop the checkpoint (kept if restoring fails)."""
    for index in reversed(done):
        restore_file(targets[index], checkpoint.files[index], states[index].data)
    remove_created_dirs(root, checkpoint.created_dirs)
    shutil.rmtree(folder)


def _record(
    store: ArtifactStore | None,
    change_set: ChangeSet,
    chosen: list[FileChange],
    checkpoint: Checkpoint,
    producer: Producer | None,
    inputs: Sequence[str],
) -> dict[str, str]:
    """Store the accepted change set, its diff and the checkpoint; their hashes by role.

    The files are written already: a store that fails is logged, never undoes the apply.
    """
    if store is None:
        return {}
    accepted = msgspec.structs.replace(change_set, changes=tuple(chosen))
    tags = ("changes", f"checkpoint:{checkpoint.id}")
    # Artifacts are shared more widely than the workspace: never a configured secret in them.
    # The change set keeps file contents (base64) only when no secret is among them.
    holds_secret = any(
        data is not None and redact_bytes(data) != data
        for c in accepted.changes
        for data in (c.before, c.after)
    )
    if holds_secret:
        accepted = msgspec.structs.replace(
            accepted,
            changes=tuple(
                msgspec.structs.replace(c, before=None, after=None) for c in accepted.changes
            ),
        )
    try:
        cs = store.put_bytes(
            accepted.to_json(),
            name="changes.json",
            tags=tags,
            media_type="application/json",
            producer=producer,
            inputs=inputs,
        )
        text = redact(diff_text(msgspec.structs.replace(accepted, changes=tuple(chosen))))
        binary = any(is_binary(c.before) or is_binary(c.after) for c in chosen)
        diff = store.put_bytes(
            text.encode("utf-8"),
            name="changes.diff",
            tags=(*tags, "binary") if binary else tags,
            media_type="text/x-diff",
            producer=producer,
            inputs=[cs.hash],
        )
        manifest = msgspec.structs.replace(checkpoint, state=CheckpointState.APPLIED)
        cp = store.put_bytes(
            msgspec.json.encode(manifest),
            name="checkpoint.json",
            tags=tags,
            media_type="application/json",
            producer=producer,
            inputs=[cs.hash, diff.hash],
        )
    except (ArtifactError, UsageError) as e:
        log.warning("checkpoint %s: could not record artifacts: %s", checkpoint.id, e)
        return {}
    return {"change_set": cs.hash, "diff": diff.hash, "checkpoint": cp.hash}
