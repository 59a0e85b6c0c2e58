"""Cache keys of steps and the file fingerprints they include.

A step's cache key is the SHA-256 of, in canonical JSON: its step type, the providing
extension's ``id@version``, its resolved inputs (upstream outputs included, so a changed
upstream result changes the key), and the content hashes of the workspace files it reads —
the paths given in inputs declared ``files = "read"``, the step type's ``reads`` globs and the
melody step's ``files`` globs — and, for an extension with the ``models`` permission, a salt:
the configuration of the models it may call (see :func:`engine.instruments.access.fingerprint`).
Folders are expanded to the files under them, leaving out what ``.gitignore`` ignores, ``.git``
and ``.symphony``.

File hashes are remembered by (size, mtime): an unchanged file is stat'ed, not read, like git's
index. A file whose mtime is within the last two seconds is always re-read (its content may still
be changing within the same mtime tick).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.files.ignore import IgnoreRules

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from engine.extensions.manifest import StepTypeSpec
    from engine.runs.store import RunStore

__all__ = ["FileHasher", "cache_key", "file_inputs"]

_SKIP = {".git", ".symphony"}
_RACY_S = 2.0


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(
    *,
    step_type: str,
    extension: str,
    inputs: Mapping[str, Any],
    files_digest: str,
    salt: Any = None,
) -> str:
    """The cache key of one step call (hex SHA-256).

    ``salt`` is what else the result depends on (the configuration of the models the
    extension may call); None leaves it out, so keys without one are unchanged.
    """
    parts = {"type": step_type, "extension": extension, "inputs": inputs, "files": files_digest}
    if salt is not None:
        parts["salt"] = salt
    return hashlib.sha256(canonical(parts).encode()).hexdigest()


def file_inputs(spec: StepTypeSpec, inputs: Mapping[str, Any], direction: str) -> list[str]:
    """Workspace paths named by the inputs declared ``files = direction`` (``read``/``write``).

    Test node ids (``tests/test_a.py::test_x``) count as their file.
    """
    paths: list[str] = []
    for name, field in spec.inputs.items():
        if field.files != direction:
            continue
        value = inputs.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        paths.extend(str(v).split("::", 1)[0] for v in values if isinstance(v, str) and v)
    return paths


class FileHasher:
    """Content hashes of workspace files, remembered across runs in the run store."""

    def __init__(self, workspace: Path, store: RunStore) -> None:
        self.workspace = workspace.resolve()
        self._store = store
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, int, str]] | None = None
        self._dirty: dict[str, tuple[int, int, str]] = {}
        self._rules = IgnoreRules(self.workspace, exclude=_SKIP)

    def _table(self) -> dict[str, tuple[int, int, str]]:
        with self._lock:
            if self._known is None:
                self._known = self._store.file_hashes()
            return self._known

    def digest(self, paths: Iterable[str], globs: Iterable[str] = ()) -> str:
        """One hash over the files named by ``paths`` (files or folders) and ``globs``."""
        files = sorted(set(self._expand(paths)) | set(self._glob(globs)))
        h = hashlib.sha256()
        for rel in files:
            h.update(rel.encode())
            h.update(b"\0")
            h.update(self.hash_file(rel).encode())
            h.update(b"\n")
        return h.hexdigest()

    def hash_file(self, rel: str) -> str:
        path = self.workspace / rel
        try:
            st = path.stat()
        except OSError:
            return "missing"
        table = self._table()
        known = table.get(rel)
        racy = time.time() - st.st_mtime < _RACY_S
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns and not racy:
            return known[2]
        h = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            return "unreadable"
        digest = h.hexdigest()
        entry = (st.st_size, st.st_mtime_ns, digest)
        with self._lock:
            table[rel] = entry
            if not racy:
                self._dirty[rel] = entry
        return digest

    def flush(self) -> None:
        """Remember the hashes computed since the last flush."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        if dirty:
            self._store.put_file_hashes([(k, *v) for k, v in dirty.items()])

    def _expand(self, paths: Iterable[str]) -> Iterable[str]:
        for raw in paths:
            path = (self.workspace / raw).resolve()
            if not path.is_relative_to(self.workspace):
                continue  # the extension's permission check refuses it anyway
            if path.is_dir():
                yield from self._walk(path)
            elif path.exists():
                yield path.relative_to(self.workspace).as_posix()
            else:
                yield Path(raw).as_posix()  # hashed as "missing": its appearance changes the key

    def _walk(self, top: Path) -> Iterable[str]:
        for folder, dirs, files in os.walk(top):
            base = Path(folder)
            dirs[:] = [d for d in dirs if not self._rules.ignored(base / d)]
            for name in files:
                full = base / name
                if not self._rules.ignored(full):
                    yield full.relative_to(self.workspace).as_posix()

    def _glob(self, globs: Iterable[str]) -> Iterable[str]:
        from engine.files.globs import compile_globs

        spec = compile_globs(list(globs))
        if spec is None:
            return
        for rel in self._walk(self.workspace):
            if spec.match_file(rel):
                yield rel
