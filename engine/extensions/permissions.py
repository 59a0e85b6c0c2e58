"""Permission checks of one extension, each decision recorded in the audit log.

The guard is the only gate between an extension and the machine: the context API asks it before
every file access, process start, environment read, network connection or model call. Paths
are resolved (symlinks followed) and must stay inside the workspace, so ``../`` tricks and links
pointing out of it are refused whatever the globs say; the extension's private scratch folder is
always allowed. Globs are those of :mod:`engine.files.globs`, anchored at the workspace root:
``**`` matches everything, ``src/**`` or ``src`` a folder, ``*.toml`` files at the root only,
``**/*.py`` at any depth, and ``!pattern`` takes a match back.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.files.globs import compile_globs
from engine.types.errors import PermissionDenied

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from engine.extensions.manifest import Permissions

__all__ = ["Decision", "PermissionGuard", "compile_globs"]

PermissionName = Literal["fs.read", "fs.write", "process", "env", "network", "models"]
Decision = Literal["allowed", "denied"]


_LOADER_VARS = ("LD_", "DYLD_")


def _names_match(patterns: Iterable[str], value: str) -> bool:
    return any(p == "*" or fnmatch.fnmatchcase(value, p) for p in patterns)


class PermissionGuard:
    """Check one extension's requests against its manifest's permissions.

    Args:
        extension: the extension's id (named in denials and audit records).
        permissions: the manifest's ``[permissions]``.
        workspace: the workspace root; every path is resolved against it.
        audit: called with (extension, permission, target, decision, detail) for every check.
        scratch: folders always readable and writable (the extension's temporary folders).
    """

    def __init__(
        self,
        extension: str,
        permissions: Permissions,
        workspace: Path,
        audit: Callable[[str, str, str, Decision, str], None],
        scratch: Sequence[Path] = (),
    ) -> None:
        self.extension = extension
        self.permissions = permissions
        self.workspace = workspace.resolve()
        self._audit = audit
        self._scratch = [p.resolve() for p in scratch]
        self._read = compile_globs(permissions.fs.read)
        self._write = compile_globs(permissions.fs.write)

    def add_scratch(self, folder: Path) -> None:
        """Allow everything under ``folder`` (a temporary folder the engine created)."""
        self._scratch.append(folder.resolve())

    def remove_scratch(self, folder: Path) -> None:
        resolved = folder.resolve()
        if resolved in self._scratch:
            self._scratch.remove(resolved)

    # --- checks --------------------------------------------------------------------------------

    def path(self, permission: Literal["fs.read", "fs.write"], path: str | Path) -> Path:
        """Resolve ``path`` (absolute, or relative to the workspace) and check access to it.

        Returns:
            The resolved absolute path.

        Raises:
            PermissionDenied: the path is outside the workspace or no glob grants it.
        """
        raw = Path(path)
        absolute = raw if raw.is_absolute() else self.workspace / raw
        resolved = Path(os.path.realpath(absolute))
        shown = str(path)
        if any(resolved.is_relative_to(s) for s in self._scratch):
            self._record(permission, shown, "allowed", "scratch folder")
            return resolved
        if not resolved.is_relative_to(self.workspace):
            self._deny(permission, shown, "outside the workspace")
        spec = self._read if permission == "fs.read" else self._write
        if resolved == self.workspace:
            # The workspace root itself: allowed when anything at all is granted (listing it).
            if spec is None:
                self._deny(permission, ".", self._no_grant(permission))
            self._record(permission, ".", "allowed", "")
            return resolved
        rel = resolved.relative_to(self.workspace).as_posix()
        # A folder granted as `src/**` is granted itself too (to list it or start a process in it).
        granted = spec is not None and (
            spec.match_file(rel) or (resolved.is_dir() and spec.match_file(rel + "/"))
        )
        if not granted:
            self._deny(permission, rel, self._no_grant(permission))
        self._record(permission, rel, "allowed", "")
        return resolved

    def can(self, permission: Literal["fs.read", "fs.write"], rel: str) -> bool:
        """Whether a workspace-relative path is granted, without auditing.

        Only for filtering paths Symphony itself found inside the workspace (glob results):
        ``rel`` is not resolved, so never pass it a path an extension supplied.
        """
        spec = self._read if permission == "fs.read" else self._write
        return spec is not None and spec.match_file(rel)

    def process(
        self, argv: Sequence[str], *, path: str | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """Check that the extension may start ``argv[0]``; return the program to execute.

        Unless any program is granted (``*``), a program named ``git`` must be the ``git``
        found on ``path`` (the PATH processes get): a file elsewhere that happens to be called
        ``git`` is refused, and so is an ``env`` that changes ``PATH`` or the dynamic loader.
        """
        if not argv:
            raise ValueError("empty command")
        shown = " ".join(argv)
        grants = self.permissions.process
        if "*" in grants:
            self._record("process", shown, "allowed", "")
            return argv[0]
        name = Path(argv[0]).name
        if not _names_match(grants, name):
            self._deny("process", shown, self._no_grant("process"))
        risky = sorted(k for k in (env or {}) if k == "PATH" or k.startswith(_LOADER_VARS))
        if risky:
            self._deny("process", shown, f"may not set {risky[0]} (only with process = ['*'])")
        if path is None:
            path = os.environ.get("PATH", "")
        if "/" in argv[0]:
            # An explicit path: only from a folder of PATH, the workspace (a project's
            # .venv/bin) or Symphony's own interpreter's folder.
            folder = Path(os.path.normpath(Path(argv[0]).absolute())).parent
            trusted = [Path(p) for p in path.split(os.pathsep) if p]
            trusted += [self.workspace, Path(sys.executable).parent]
            if not any(folder == t or folder.is_relative_to(self.workspace) for t in trusted):
                self._deny("process", shown, f"{folder} is not on PATH nor in the workspace")
            self._record("process", shown, "allowed", "")
            return argv[0]
        import shutil

        found = shutil.which(name, path=path)
        if found is None:
            self._deny("process", shown, "not found on PATH")
        self._record("process", shown, "allowed", found or "")
        return found or argv[0]

    def env(self, name: str) -> None:
        """Check that the extension may read the environment variable ``name``."""
        if not self.may_read_env(name):
            self._deny("env", name, self._no_grant("env"))
        self._record("env", name, "allowed", "")

    def may_read_env(self, name: str) -> bool:
        return _names_match(self.permissions.env, name)

    def network(self, host: str) -> None:
        """Check that the extension may connect to ``host``."""
        if not _names_match([p.lower() for p in self.permissions.network], host.lower()):
            self._deny("network", host, self._no_grant("network"))
        self._record("network", host, "allowed", "")

    def model(self, name: str) -> None:
        """Check that the extension may call the configured model ``name``."""
        if not _names_match(self.permissions.models, name):
            self._deny("models", name, self._no_grant("models"))
        self._record("models", name, "allowed", "")

    def may_call_model(self, name: str) -> bool:
        """Whether model ``name`` is granted, without auditing (to list the callable ones)."""
        return _names_match(self.permissions.models, name)

    def record(self, permission: str, target: str, detail: str = "") -> None:
        """Audit an operation that needs no grant (artifact access, progress)."""
        self._record(permission, target, "allowed", detail)

    # --- internals -----------------------------------------------------------------------------

    def _no_grant(self, permission: PermissionName) -> str:
        granted = {
            "fs.read": self.permissions.fs.read,
            "fs.write": self.permissions.fs.write,
            "process": self.permissions.process,
            "env": self.permissions.env,
            "network": self.permissions.network,
            "models": self.permissions.models,
        }[permission]
        return f"granted: {', '.join(granted)}" if granted else "nothing granted"

    def _record(self, permission: str, target: str, decision: Decision, detail: str) -> None:
        self._audit(self.extension, permission, target, decision, detail)

    def _deny(self, permission: PermissionName, target: str, reason: str) -> None:
        self._record(permission, target, "denied", reason)
        raise PermissionDenied(self.extension, permission, target, reason)
