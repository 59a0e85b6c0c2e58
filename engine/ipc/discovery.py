"""Where peers find a server: the private runtime folder, the session secret file, env vars.

Sockets and secret files live in a per-user folder, ``$XDG_RUNTIME_DIR/symphony`` or else
``<tmp>/symphony-<uid>``, which must be a real folder owned by this user with mode 0700: a wrong
mode is repaired, another owner or a symlink is refused (someone else could read or swap the
files). A child process the engine starts learns the address and secret from
``SYMPHONY_IPC_ADDRESS`` and ``SYMPHONY_IPC_SECRET`` (hex). This module must not open sockets.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.types.errors import IpcError

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_ADDRESS = "SYMPHONY_IPC_ADDRESS"
ENV_SECRET = "SYMPHONY_IPC_SECRET"
ENV_SECRET_FILE = "SYMPHONY_IPC_SECRET_FILE"
DIR_MODE = 0o700
FILE_MODE = 0o600


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else -1


def runtime_dir() -> Path:
    """This user's private folder for sockets and secret files, created and checked."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        path = Path(base) / "symphony"
    else:
        path = Path(tempfile.gettempdir()) / f"symphony-{_uid()}"
    return ensure_private_dir(path)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` with mode 0700 or check an existing one, repairing a too-open mode.

    Raises:
        IpcError: ``path`` cannot be created, is a symlink, not a folder, or is owned by
            another user.
    """
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
        info = path.lstat()
    except OSError as e:
        raise IpcError(f"cannot create the IPC folder {path}: {e}") from e
    if stat.S_ISLNK(info.st_mode):
        raise IpcError(f"{path} is a symbolic link; refusing to keep IPC sockets there")
    if not stat.S_ISDIR(info.st_mode):
        raise IpcError(f"{path} is not a folder; cannot keep IPC sockets there")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise IpcError(
            f"{path} is owned by uid {info.st_uid}, not by this user (uid {os.getuid()});"
            " refusing to keep IPC sockets there"
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)  # ours, but too open: repair
    return path


def write_secret(path: Path, secret: bytes) -> Path:
    """Write ``secret`` as hex to ``path`` atomically, readable by this user only (0600)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_secret(path: Path) -> bytes:
    """Read a secret file written by :func:`write_secret`.

    Raises:
        IpcError: the file is missing or does not hold hex.
    """
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as e:
        raise IpcError(f"cannot read the IPC secret from {path}: {e}") from e


def child_env(address: str, secret: bytes) -> dict[str, str]:
    """Environment variables that let a child process connect: the address and hex secret."""
    return {ENV_ADDRESS: address, ENV_SECRET: secret.hex()}


def from_env(environ: Mapping[str, str] | None = None) -> tuple[str, bytes]:
    """The ``(address, secret)`` a parent passed with :func:`child_env` (or a secret file).

    Raises:
        IpcError: a variable is missing or malformed.
    """
    env = os.environ if environ is None else environ
    address = env.get(ENV_ADDRESS)
    if not address:
        raise IpcError(f"{ENV_ADDRESS} is not set: this process was not started by Symphony")
    if env.get(ENV_SECRET):
        try:
            return address, bytes.fromhex(env[ENV_SECRET])
        except ValueError as e:
            raise IpcError(f"{ENV_SECRET} is not hex: {e}") from e
    if env.get(ENV_SECRET_FILE):
        return address, read_secret(Path(env[ENV_SECRET_FILE]))
    raise IpcError(f"neither {ENV_SECRET} nor {ENV_SECRET_FILE} is set")
