"""The installer's transaction: a lock, a staging folder, journaled moves and rollback.

Everything happens inside the user's extensions folder, so every move is a ``rename`` on one
filesystem: new versions are staged in ``.install-XXXX/`` (a hidden folder discovery never
looks into), an installed folder being replaced or removed is moved into it, the new one is
renamed into place, and the registry is updated in one SQLite transaction. Until then any
failure moves everything back; afterwards the staging folder (holding the old versions) is
deleted.

Before the first move a journal (``journal.json``) records the moves and the registry change
the commit makes. A process killed mid-commit leaves its staging folder behind; the next
transaction finds it and, unless the registry shows the commit happened, moves every folder
back — so the extensions folder and the registry always agree.

One transaction at a time: ``.lock`` in the extensions folder is held (``flock``) for the
whole transaction.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.types.errors import InstallError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.extensions.store import ExtensionsDB, RegistryRow

__all__ = ["STAGING_PREFIX", "Transaction"]

log = logging.getLogger("symphony.extensions.install")

STAGING_PREFIX = ".install-"
LOCK_NAME = ".lock"
JOURNAL = "journal.json"
LOCK_WAIT_S = 30.0


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (one filesystem: atomic)."""
    src.rename(dst)


class Transaction:
    """One install, update or removal in ``user_dir``; use as a context manager.

    Entering takes the lock and recovers what a killed transaction left; leaving deletes the
    staging folder (after :meth:`commit`, it holds only what was replaced).
    """

    def __init__(self, user_dir: Path, db: ExtensionsDB) -> None:
        self.user_dir = user_dir
        self.db = db
        self.folder: Path = user_dir  # set on enter
        self._lock_fd: int | None = None
        self._counter = 0

    def __enter__(self) -> Transaction:
        try:
            self.user_dir.mkdir(parents=True, exist_ok=True)
            self._lock()
            self._recover()
            self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.user_dir))
        except OSError as e:
            self._unlock()
            raise InstallError(f"{self.user_dir}: cannot prepare the install: {e}") from e
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.folder != self.user_dir:
                _remove_tree(self.folder)
        finally:
            self._unlock()

    # --- lock ------------------------------------------------------------------------------------

    def _lock(self) -> None:
        import os

        fd = os.open(self.user_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise InstallError(
                        f"another install is running in {self.user_dir} (it holds"
                        f" {LOCK_NAME}); try again when it is done"
                    ) from None
                time.sleep(0.1)
        self._lock_fd = fd

    def _unlock(self) -> None:
        import os

        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # --- staging ---------------------------------------------------------------------------------

    def new_folder(self, name: str) -> Path:
        """A fresh, empty folder inside the staging folder."""
        self._counter += 1
        path = self.folder / f"{self._counter}-{name}"
        path.mkdir()
        return path

    # --- commit ----------------------------------------------------------------------------------

    def commit(
        self,
        place: Sequence[tuple[Path | None, Path, Path | None]],
        rows: Sequence[RegistryRow],
        remove: Sequence[str] = (),
    ) -> None:
        """Put the staged folders in place and update the registry, all or nothing.

        Args:
            place: ``(staged, destination, replaced)``: ``replaced`` (the installed entry, or
                None) is moved aside first; a None ``staged`` only removes ``replaced``.
            rows: the registry rows to write.
            remove: ids to delete from the registry.

        Raises:
            InstallError: a move or the registry update failed; everything was moved back.
        """
        moves: list[tuple[Path, Path]] = []
        for i, (staged, dest, replaced) in enumerate(place):
            if replaced is not None:
                moves.append((replaced, self.folder / f"old-{i}-{replaced.name}"))
            if staged is not None:
                moves.append((staged, dest))
        self._write_journal(moves, rows, remove)
        done: list[tuple[Path, Path]] = []
        try:
            for src, dst in moves:
                _move(src, dst)
                done.append((src, dst))
            self.db.apply(rows, remove)
        except BaseException as e:
            problems = _undo(done)
            if problems:
                raise InstallError(
                    f"the install failed ({e}) and could not be fully undone: "
                    + "; ".join(problems)
                ) from e
            if not isinstance(e, Exception):  # Ctrl-C: rolled back, and still an interrupt
                raise
            raise InstallError(f"nothing changed: {e}") from e
        (self.folder / JOURNAL).unlink(missing_ok=True)

    def _write_journal(
        self, moves: list[tuple[Path, Path]], rows: Sequence[RegistryRow], remove: Sequence[str]
    ) -> None:
        from engine.files.atomic import write_atomic

        data = {
            "moves": [[str(s), str(d)] for s, d in moves],
            "pins": {r.id: r.manifest_hash for r in rows},
            "remove": list(remove),
        }
        write_atomic(self.folder / JOURNAL, json.dumps(data).encode())

    def _recover(self) -> None:
        """Finish what a killed transaction left: undo its moves unless its registry update
        happened, then delete its staging folder."""
        for stale in sorted(self.user_dir.glob(f"{STAGING_PREFIX}*")):
            journal = stale / JOURNAL
            if journal.is_file():
                try:
                    data = json.loads(journal.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    data = None
                if data is not None and not self._committed(data):
                    moves = [(Path(s), Path(d)) for s, d in data["moves"]]
                    problems = _undo(moves)
                    for problem in problems:
                        log.error("recovering %s: %s", stale, problem)
                    if problems:
                        continue  # keep it: it may hold the only copy of something
                    log.warning("rolled back an interrupted install (%s)", stale)
            _remove_tree(stale)

    def _committed(self, data: dict[str, object]) -> bool:
        registry = self.db.registry()
        pins = data.get("pins") or {}
        removed = data.get("remove") or []
        assert isinstance(pins, dict) and isinstance(removed, list)
        if not pins and not removed:
            return False
        pinned = all(
            (row := registry.get(i)) is not None and row.manifest_hash == h for i, h in pins.items()
        )
        return pinned and all(i not in registry for i in removed)


def _undo(done: list[tuple[Path, Path]]) -> list[str]:
    """Move every ``(src, dst)`` back, newest first (skipping what is already back); the
    problems that remain, as sentences."""
    problems: list[str] = []
    for src, dst in reversed(done):
        if src.exists() or src.is_symlink() or not (dst.exists() or dst.is_symlink()):
            continue
        try:
            _move(dst, src)
        except OSError as e:
            problems.append(f"cannot move {dst} back to {src}: {e.strerror or e}")
    return problems


def _remove_tree(path: Path) -> None:
    """Delete a staging folder; links inside are removed, never followed."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("cannot delete %s: %s", path, e)
