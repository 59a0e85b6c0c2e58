"""Checkpoints: the saved state of the files an apply touched, listing them, and undo.

A checkpoint is a folder ``<state_dir>/checkpoints/<id>/`` holding

- ``files/<n>``: the original bytes of each touched file that existed;
- ``change-set.json``: the accepted changes (for the record);
- ``manifest.json``: a :class:`~engine.changes.model.Checkpoint`, always written atomically and
  written *last* when the checkpoint is taken, so a folder without a manifest is an
  interrupted checkpoint that changed nothing (listing ignores it, :func:`prune_incomplete`
  removes it).

Undo restores byte-identical files and their permission bits: files the change created are
deleted (with the folders it created, when empty), files it deleted are recreated, modified files
get their old bytes. It refuses, naming the files, when one changed since the change was applied,
unless forced — then what it overwrites is kept under ``overwritten/``. A file already back in its
old state counts as restored, which is what makes undo work after an apply that a crash cut short
(manifest state ``applying``) and makes an interrupted undo safe to run again; the temporary files
an interrupted atomic write leaves next to a touched file are removed too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from engine.changes.errors import ChangeConflict, NothingToUndo
from engine.changes.model import (
    Checkpoint,
    CheckpointFile,
    CheckpointState,
    RestoredFile,
    UndoResult,
    sha256,
)
from engine.changes.paths import FileState, check_path, read_state
from engine.files.atomic import write_atomic
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "MANIFEST",
    "checkpoints_dir",
    "list_checkpoints",
    "load_checkpoint",
    "prune_incomplete",
    "prune_old",
    "remove_stray_temps",
    "restore_file",
    "save_manifest",
    "undo",
]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FILES = "files"
OVERWRITTEN = "overwritten"
_decoder = msgspec.json.Decoder(Checkpoint)
_encoder = msgspec.json.Encoder()


def checkpoints_dir(root: Path, state_dir: str = ".symphony") -> Path:
    """The folder holding a workspace's checkpoints."""
    return root / Path(state_dir).expanduser() / "checkpoints"


@contextlib.contextmanager
def checkpoint_lock(root: Path, state_dir: str = ".symphony") -> Iterator[None]:
    """Hold the workspace's change lock: one apply or undo at a time, across processes (the
    TUI's review and ``symphony ask --apply`` may race), from the conflict check to the last
    write. The checkpoints folder is private (0700): it holds copies of the user's files."""
    folder = checkpoints_dir(root, state_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
    with (folder.parent / "changes.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def keep_private(path: Path) -> None:
    """A saved copy of a user's file is readable by its owner only."""
    with contextlib.suppress(OSError):
        path.chmod(0o600)


def save_manifest(folder: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint's manifest atomically (a reader sees the old one or the new)."""
    write_atomic(folder / MANIFEST, _encoder.encode(checkpoint) + b"\n")


def _read_manifest(folder: Path) -> Checkpoint | None:
    try:
        return _decoder.decode((folder / MANIFEST).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as e:
        log.warning("%s: unreadable checkpoint manifest: %s", folder, e)
        return None


def list_checkpoints(root: Path, state_dir: str = ".symphony") -> list[Checkpoint]:
    """Every complete checkpoint of the workspace, newest first."""
    folder = checkpoints_dir(root, state_dir)
    if not folder.is_dir():
        return []
    found = [cp for d in folder.iterdir() if d.is_dir() and (cp := _read_manifest(d))]
    return sorted(found, key=lambda cp: (cp.created, cp.id), reverse=True)


def prune_incomplete(root: Path, state_dir: str = ".symphony") -> list[str]:
    """Remove checkpoint folders without a manifest (a crash while taking them); their ids."""
    folder = checkpoints_dir(root, state_dir)
    removed: list[str] = []
    if folder.is_dir():
        for d in folder.iterdir():
            if d.is_dir() and not (d / MANIFEST).exists():
                shutil.rmtree(d)
                removed.append(d.name)
    return removed


def prune_old(root: Path, keep: int, state_dir: str = ".symphony") -> list[str]:
    """Remove all but the ``keep`` newest checkpoints; their ids. A checkpoint still
    ``applying`` (an apply a crash cut short) is never removed: undo is how it is repaired."""
    removed: list[str] = []
    for cp in list_checkpoints(root, state_dir)[max(keep, 1) :]:
        if cp.state is CheckpointState.APPLYING:
            continue
        shutil.rmtree(checkpoints_dir(root, state_dir) / cp.id, ignore_errors=True)
        removed.append(cp.id)
    return removed


def load_checkpoint(root: Path, checkpoint: str = "", state_dir: str = ".symphony") -> Checkpoint:
    """A checkpoint by id (a unique prefix will do), or with ``""`` the newest not undone.

    Raises:
        NothingToUndo: ``""`` and every checkpoint is undone (or there is none).
        UsageError: no checkpoint has that id, or the prefix is ambiguous.
    """
    all_ = list_checkpoints(root, state_dir)
    if not checkpoint:
        for cp in all_:
            if cp.state is not CheckpointState.UNDONE:
                return cp
        raise NothingToUndo("nothing to undo: no applied change in this workspace")
    matches = [cp for cp in all_ if cp.id == checkpoint] or [
        cp for cp in all_ if cp.id.startswith(checkpoint)
    ]
    if not matches:
        raise UsageError(f"no checkpoint {checkpoint!r} (symphony undo --list shows them)")
    if len(matches) > 1:
        ids = ", ".join(cp.id for cp in matches)
        raise UsageError(f"checkpoint {checkpoint!r} is ambiguous: {ids}")
    return matches[0]


def _state_hash(state: FileState) -> str | None:
    return None if state.data is None else sha256(state.data)


def restore_file(target: Path, entry: CheckpointFile, original: bytes | None) -> None:
    """Put one file back as the checkpoint saw it: its bytes and mode, or its absence."""
    if not entry.existed:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            _sync_folder(target.parent)
        return
    assert original is not None and entry.mode is not None
    write_atomic(target, original)
    target.chmod(entry.mode)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem can sync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_created_dirs(root: Path, dirs: tuple[str, ...]) -> None:
    """Remove the folders an apply created, deepest first, when they are empty again."""
    for rel in reversed(dirs):
        try:
            (root / rel).rmdir()
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise


def remove_stray_temps(target: Path) -> list[Path]:
    """Remove the temporary files a killed atomic write of ``target`` left in its folder.

    ``write_atomic`` names them ``.<name>.<8 random chars>.tmp``; a kill -9 between creating and
    renaming one leaves it behind.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed: list[Path] = []
    if target.parent.is_dir():
        for path in target.parent.iterdir():
            if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _original(folder: Path, entry: CheckpointFile) -> bytes | None:
    if not entry.existed:
        return None
    try:
        data = (folder / FILES / entry.blob).read_bytes()
    except OSError as e:
        raise UsageError(f"checkpoint {folder.name} is damaged: {entry.path}: {e}") from e
    if sha256(data) != entry.before_sha256:
        raise UsageError(f"checkpoint {folder.name} is damaged: the copy of {entry.path} differs")
    return data


def undo(
    workspace: Path,
    checkpoint: str = "",
    *,
    force: bool = False,
    state_dir: str = ".symphony",
) -> UndoResult:
    """See :func:`_undo`; runs under the workspace's change lock."""
    with checkpoint_lock(Path(os.path.realpath(workspace)), state_dir):
        return _undo(workspace, checkpoint, force=force, state_dir=state_dir)


def _undo(
    workspace: Path,
    checkpoint: str = "",
    *,
    force: bool = False,
    state_dir: str = ".symphony",
) -> UndoResult:
    """Restore the files of a checkpoint (default: the newest not yet undone).

    Args:
        workspace: the workspace folder.
        checkpoint: a checkpoint id or unique prefix; ``""`` for the newest one not undone.
        force: restore even files that changed since the change was applied; their current
            content is kept under the checkpoint's ``overwritten/`` folder.
        state_dir: Symphony's state folder (``core.state_dir``).

    Returns:
        The checkpoint (now ``undone``) and what was done to each file.

    Raises:
        NothingToUndo: there is no checkpoint left to undo.
        ChangeConflict: files changed since the change was applied (without ``force``).
        UsageError: the checkpoint is unknown, already undone, or damaged.
    """
    root = Path(os.path.realpath(workspace))
    cp = load_checkpoint(root, checkpoint, state_dir)
    if cp.state is CheckpointState.UNDONE:
        raise UsageError(f"checkpoint {cp.id} is already undone")
    folder = checkpoints_dir(root, state_dir) / cp.id
    plan: list[tuple[CheckpointFile, Path, FileState, bytes | None]] = []
    conflicts: list[str] = []
    for entry in cp.files:
        target = check_path(root, entry.path, state_dir=state_dir)
        state = read_state(target)
        original = _original(folder, entry)
        current = _state_hash(state)
        if state.folder or current not in (entry.before_sha256, entry.after_sha256):
            conflicts.append(entry.path)
        plan.append((entry, target, state, original))
    if conflicts and not force:
        raise ChangeConflict(
            f"cannot undo checkpoint {cp.id}: changed since the change was applied: "
            f"{', '.join(conflicts)} (undo --force restores them anyway, keeping their current "
            f"content in the checkpoint)",
            tuple(conflicts),
        )
    done: list[RestoredFile] = []
    for index, (entry, target, state, original) in enumerate(plan):
        for stray in remove_stray_temps(target):
            log.info("removed %s, left by an interrupted write", stray)
        if entry.path in conflicts and state.data is not None:
            write_atomic(folder / OVERWRITTEN / str(index), state.data)
            keep_private(folder / OVERWRITTEN / str(index))
        if state.folder:
            raise UsageError(f"cannot undo {entry.path}: a folder is there now; move it away")
        unchanged = _state_hash(state) == entry.before_sha256 and (
            state.data is None or state.mode == entry.mode
        )
        if unchanged:
            done.append(RestoredFile(path=entry.path, action="unchanged"))
            continue
        restore_file(target, entry, original)
        if not entry.existed:
            action = "deleted"
        elif state.data is None:
            action = "recreated"
        else:
            action = "restored"
        done.append(RestoredFile(path=entry.path, action=action))
    remove_created_dirs(root, cp.created_dirs)
    finished = msgspec.structs.replace(cp, state=CheckpointState.UNDONE, undone_at=time.time())
    save_manifest(folder, finished)
    return UndoResult(checkpoint=finished, files=tuple(done), forced=tuple(conflicts))
