"""Confining an extension host: resource limits always, a bubblewrap sandbox where available.

Limits (``runtime.memory_mb``, ``runtime.cpu_s``) are set with ``setrlimit`` in the child before
it runs Python. The sandbox (``bwrap``, Linux) gives the host a file system holding only what
Python and the extension need, read-only: the system folders, the Python installation, the
packages on ``sys.path``, the extension's folder — plus the bus's socket folder and a scratch
folder shared with the engine. The workspace, the home folder and everything else are absent,
so reading ``~/.ssh`` or a workspace file directly fails as surely as asking the engine does;
without a ``network`` permission the host has no network either. Where bubblewrap is missing or
cannot create namespaces, hosts run unsandboxed and :func:`sandbox_problem` says why (shown in
the ``extensions`` health).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["limits", "sandbox_problem", "sandboxed"]

#: System folders a Python process needs, bound read-only when they exist.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/alternatives")
#: Single files under /etc worth having (name resolution for hosts with network access, TLS).
ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/resolv.conf", "/etc/hosts", "/etc/ssl")

MIB = 1024 * 1024


@functools.cache
def sandbox_problem() -> str | None:
    """Why hosts cannot be sandboxed here (None: they can)."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap cannot run: {e}"
    if result.returncode != 0:
        return f"bwrap cannot create a sandbox here: {result.stderr.strip() or result.returncode}"
    return None


def sandboxed(
    argv: list[str],
    *,
    readable: Iterable[Path],
    writable: Iterable[Path],
    network: bool,
) -> list[str]:
    """``argv`` wrapped in bubblewrap with only ``readable`` (read-only) and ``writable``
    folders visible besides the system and Python ones."""
    bwrap = shutil.which("bwrap") or "bwrap"
    # --die-with-parent ties the sandbox to the *thread* that started bwrap: hosts are started
    # from one long-lived thread (supervisor.spawn) so that means "dies with the engine".
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all"]
    if network:
        args.append("--share-net")
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for folder in SYSTEM + ETC:
        args += ["--ro-bind-try", folder, folder]
    for path in _python_paths(readable):
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    args += ["--setenv", "HOME", "/tmp", "--chdir", "/tmp", *argv]
    return args


def _python_paths(extra: Iterable[Path]) -> list[Path]:
    """The Python installation, the folders of ``sys.path`` and ``extra``, without repeats
    or folders inside another one (bwrap binds parents first)."""
    import engine
    import symphony_sdk

    wanted = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent}
    wanted.update(Path(p) for p in sys.path if p and Path(p).is_dir() and Path(p) != Path.cwd())
    # Symphony's own packages, not the folder holding them (a checkout may be a workspace).
    wanted.update(Path(m.__file__ or "").parent for m in (engine, symphony_sdk))
    wanted.update(extra)
    resolved = sorted({p.resolve() for p in wanted if p.exists()}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


def limits(memory_mb: int | None, cpu_s: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` applying the manifest's memory and CPU-time limits (None: no limits)."""
    if memory_mb is None and cpu_s is None:
        return None

    def apply() -> None:
        import resource

        if memory_mb is not None:
            size = memory_mb * MIB
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        if cpu_s is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))

    return apply
