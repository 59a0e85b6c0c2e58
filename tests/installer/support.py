"""Helpers of the installer tests: extensions written on disk, indexes built for real, the
``symphony``/``carets`` commands as subprocesses, a terminal (PTY) to answer prompts on, and
what the extensions folder and the registry hold (to prove a refusal changed nothing)."""

from __future__ import annotations

import json
import os
import select
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from engine.extensions.archive import pack
from engine.extensions.publish import publish


def write_ext(
    root: Path,
    ext_id: str,
    version: str = "1.0.0",
    *,
    requires: dict[str, str] | None = None,
    permissions: str = 'fs = { read = ["*.txt"] }',
    step: str | None = None,
) -> Path:
    """Write ``root/<ext_id>-<version>/``: a manifest and a module with one echo step
    (``<last part>.echo``, or ``step``); the module name is unique so imports never mix."""
    short = ext_id.rsplit(".", 1)[-1]
    step = step or f"{short}.echo"
    module = f"m_{short}_{uuid.uuid4().hex[:8]}"
    folder = root / f"{ext_id}-{version}"
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            from symphony_sdk import Operator, step

            class Ext(Operator):
                @step("{step}")
                def echo(self, ctx, inputs):
                    return {{"text": "{ext_id} {version}: " + inputs["text"]}}
            """
        ),
        encoding="utf-8",
    )
    req = ", ".join(f'"{k}" = "{v}"' for k, v in (requires or {}).items())
    (folder / "symphony-extension.toml").write_text(
        textwrap.dedent(
            f"""
            [extension]
            id = "{ext_id}"
            name = "{short} test"
            version = "{version}"
            type = "operator"
            description = "A test extension."
            entry = "{module}:Ext"
            requires = {{ {req} }}

            [permissions]
            {permissions}

            [[contributes.steps]]
            type = "{step}"
            [contributes.steps.inputs]
            text = {{ type = "string", required = true }}
            [contributes.steps.outputs]
            text = {{ type = "string" }}
            """
        ),
        encoding="utf-8",
    )
    return folder


def publish_ext(folder: Path, index: str, dist: Path) -> Path:
    """Pack ``folder`` into ``dist`` and publish it to the index at ``index``."""
    archive = pack(folder, dist)
    publish(archive, index)
    return archive


def run(
    *args: str, cwd: Path, prog: str = "symphony_cli", stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m symphony_cli ARGS`` (or ``symphony_cli.carets``), no terminal attached."""
    return subprocess.run(
        [sys.executable, "-m", prog, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        timeout=60,
    )


def carets(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, prog="symphony_cli.carets")


def on_terminal(args: list[str], cwd: Path, answer: str, prompt: str = "[y/N]") -> tuple[int, str]:
    """Run ``symphony ARGS`` on a real PTY, answer ``answer`` when ``prompt`` shows, and
    return its exit status and everything it wrote."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "symphony_cli", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and prompt.encode() in seen:
                os.write(master, answer.encode() + b"\r")
                answered = True
            if proc.poll() is not None and not ready:
                break
        status = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return status, seen.decode(errors="replace").replace("\r\n", "\n")


def data_dir() -> Path:
    """Symphony's data folder in this test's isolated home (``XDG_DATA_HOME/symphony``)."""
    return Path(os.environ["XDG_DATA_HOME"]) / "symphony"


def user_dir() -> Path:
    return data_dir() / "extensions"


def registry() -> dict[str, tuple[str, str, str, int]]:
    """The registry's rows by id: (path, version, manifest hash, enabled)."""
    db = data_dir() / "extensions.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, path, version, manifest_hash, enabled FROM extensions")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    finally:
        conn.close()


def snapshot() -> tuple[dict[str, str], dict[str, tuple[str, str, str, int]]]:
    """Every file under the user's extensions folder (with its content, the lock file left
    out) and the registry."""
    files: dict[str, str] = {}
    root = user_dir()
    if root.exists():
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if rel == ".lock":  # the install lock, created by the first transaction
                continue
            if path.is_symlink():
                files[rel] = f"-> {path.readlink()}"
            elif path.is_file():
                files[rel] = path.read_bytes().hex()
            else:
                files[rel] = "/"
    return files, registry()


def installed_version(ext_id: str) -> str | None:
    """The version in the installed folder's manifest (None: not installed)."""
    import tomllib

    manifest = user_dir() / ext_id / "symphony-extension.toml"
    if not manifest.exists():
        return None
    return str(tomllib.loads(manifest.read_text())["extension"]["version"])


def ext_list(cwd: Path) -> dict[str, dict[str, object]]:
    result = run("ext", "list", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return {e["id"]: e for e in json.loads(result.stdout)}
