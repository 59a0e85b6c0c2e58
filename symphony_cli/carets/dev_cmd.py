"""``carets dev [PATH]``: develop an extension inside Symphony with instant checks.

The folder is linked into the user's extensions folder and pinned (see
:mod:`engine.extensions.devlink`), so ``symphony`` loads the working copy. Then every change
(caches, ``dist/`` and version control left out, bursts collected for ``--debounce-ms``)
re-validates it in a fresh process (new code is imported, never a stale module), re-pins the
manifest's hash, runs its tests with ``--test``, and prints one line on stdout. Ctrl-C (or
SIGTERM) stops watching with exit status 0 and leaves the link; ``--unlink`` removes it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.types.errors import ManifestError
from symphony_cli.carets.check_cmd import PathArgument, extension_folder, pytest_command
from symphony_cli.output import out, say

if TYPE_CHECKING:
    from engine.extensions.store import ExtensionsDB

__all__ = ["dev", "one_check"]


def _last_line(text: str) -> str:
    lines = [line.strip(" =") for line in text.strip().splitlines() if line.strip(" =")]
    return lines[-1] if lines else ""


def one_check(folder: Path, db: ExtensionsDB, run_tests: bool) -> str:
    """Validate (in a subprocess), re-pin and optionally test; the one-line result."""
    from engine.extensions.devlink import repin

    stamp = time.strftime("%H:%M:%S")
    validated = subprocess.run(
        [sys.executable, "-m", "symphony_cli.carets", "validate", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if validated.returncode != 0:
        reason = _last_line(validated.stderr).removeprefix("carets: error: ")
        return f"{stamp} invalid: {reason}"
    try:
        repin(folder, db)
    except ManifestError as e:  # changed again since the check
        return f"{stamp} invalid: {e.message}"
    line = f"{stamp} {_last_line(validated.stdout)}; pinned"
    if run_tests:
        tests = subprocess.run(
            pytest_command(folder, []), cwd=folder, capture_output=True, text=True, check=False
        )
        verdict = "passed" if tests.returncode == 0 else "FAILED"
        line += f"; tests {verdict}: {_last_line(tests.stdout) or _last_line(tests.stderr)}"
    return line


def _relevant(folder: Path) -> Any:
    from engine.extensions.archive import excluded

    def check(_change: object, path: str) -> bool:
        try:
            rel = Path(path).relative_to(folder).as_posix()
        except ValueError:
            return False
        return not excluded(rel)

    return check


def dev(
    path: PathArgument = Path(),
    test: Annotated[bool, typer.Option("--test", help="Run its tests after each change.")] = False,
    unlink: Annotated[
        bool, typer.Option("--unlink", help="Remove the link and the registry entry, then stop.")
    ] = False,
    debounce_ms: Annotated[
        int, typer.Option("--debounce-ms", min=0, help="Quiet time after a change before checking.")
    ] = 200,
) -> None:
    """Link the extension into Symphony and re-check it (and --test it) on every change."""
    from engine.config import load_config
    from engine.extensions import devlink
    from engine.extensions.service import extension_dirs, open_db

    folder = extension_folder(path)
    workspace = Path.cwd()
    config = load_config(workspace).config
    dirs = extension_dirs(workspace, config)
    db = open_db(config)
    try:
        if unlink:
            ext_id = devlink.unlink(folder, dirs, db)
            say(f"unlinked {ext_id}; {folder} is left as it is")
            return
        manifest = devlink.link(folder, dirs, db)
        say(f"linked {manifest.id}: {dirs[0] / manifest.id} -> {folder}")
        _watch(folder, db, test, debounce_ms)
    finally:
        db.close()


def _watch(folder: Path, db: ExtensionsDB, run_tests: bool, debounce_ms: int) -> None:
    import watchfiles

    stop = threading.Event()

    def on_term(_sig: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    ready = False
    try:
        _emit(one_check(folder, db, run_tests))
        # yield_on_timeout: the first (empty) batch says the watch is in place.
        for changes in watchfiles.watch(
            folder,
            watch_filter=_relevant(folder),
            debounce=max(debounce_ms, 1),
            step=20,
            stop_event=stop,
            rust_timeout=200,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if not ready:
                ready = True
                say(f"watching {folder} — Ctrl-C stops (the link stays; --unlink removes it)")
            if changes:
                _emit(one_check(folder, db, run_tests))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    say("stopped watching; the extension stays linked")


def _emit(line: str) -> None:
    out(line)
    sys.stdout.flush()  # one line per change, read as it comes by whoever watches the output
