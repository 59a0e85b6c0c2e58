"""``symphony watch MELODY``: run a melody, then again whenever its trigger files change.

The files are the melody's ``triggers.files`` globs (workspace-relative); a melody without
any is re-run on a change to any file ``.gitignore`` does not ignore. Changes under ``.git/``,
the state folder (``.symphony/``) and tool caches (``__pycache__``, ``.pytest_cache``…) never
count, so a run's own bookkeeping cannot trigger the next run.

Timing: changes are collected until none arrived for the debounce window (``--debounce-ms``), so
a burst (a save that touches several files, a ``git checkout``) makes one run; changes during a
run queue exactly one more run after it. A change to the melody file starts a run too, and the
file is read again for every run, so edits to it apply (its trigger globs are the ones read at
start). Each run is shown like ``symphony run`` shows it; a failed run, or an edit that breaks
the melody, is reported and the watch goes on. Ctrl-C (or SIGTERM, or SIGHUP when the terminal
closes) stops watching with exit status 0, cancelling a run in progress first; a SIGTERM between
runs starts no other (a follower of ``triggers.after`` included).

One watcher thread (watchfiles) feeds a :class:`_Changes` buffer; the main thread debounces and
runs. The watcher is owned by the command and stopped and joined when it ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.types.errors import SymphonyError, UsageError
from symphony_cli.output import WorkspaceOption, resolve_workspace, say
from symphony_cli.run_cmd import TERM_SIGNALS, ParamOption, _Display, _drive, _finish, _runner

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.runs.service import Runner

#: Folder names whose contents never trigger a run: version control, Symphony's state, and
#: caches that tools (pytest, ruff, mypy, Python itself) write while a run checks the files.
NEVER = frozenset(
    {".git", ".symphony", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
)
#: Longest a burst is collected, as a multiple of the debounce window, so a file that changes
#: without pause still gets runs.
MAX_BURST = 10


class _Changes:
    """Changed paths reported by the watcher thread, in arrival order, without repeats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, None] = {}
        self._last = 0.0
        self.arrived = threading.Event()

    def add(self, paths: list[str]) -> None:
        with self._lock:
            for p in paths:
                self._paths[p] = None
            self._last = time.monotonic()
            self.arrived.set()

    def quiet_for(self) -> float:
        """Seconds since the last change arrived."""
        with self._lock:
            return time.monotonic() - self._last

    def take(self) -> list[str]:
        with self._lock:
            paths, self._paths = list(self._paths), {}
            self.arrived.clear()
            return paths


def _relevant(
    root: Path, globs: Any, state_dir: str | None, melody_file: str | None
) -> Callable[[str], str | None]:
    """A function giving the workspace-relative path of a change that should trigger a run:
    one the globs match (or, without globs, one .gitignore does not ignore), or the melody file.
    """
    ignore: Any = None
    if globs is None:
        from engine.files.ignore import IgnoreRules

        ignore = IgnoreRules(root)

    def check(path: str) -> str | None:
        try:
            rel = PurePosixPath(Path(path).relative_to(root).as_posix())
        except ValueError:
            return None
        text = str(rel)
        if text == melody_file:
            return text
        if any(part in NEVER for part in rel.parts[:-1]) or rel.name in NEVER:
            return None
        if state_dir and (text == state_dir or text.startswith(state_dir + "/")):
            return None
        if globs is not None:
            return text if globs.match_file(text) else None
        if rel.name == ".gitignore":
            ignore.clear()  # its rules changed
        return None if ignore.ignored(root / text) else text

    return check


class _Watcher:
    """The watcher thread: feeds ``changes`` until ``stop`` is set; ``error`` says why it ended
    early (the OS refused the watch, e.g. too many inotify watches)."""

    def __init__(
        self,
        root: Path,
        relevant: Callable[[str], str | None],
        changes: _Changes,
        stop: threading.Event,
    ) -> None:
        self.root, self.relevant, self.changes, self.stop = root, relevant, changes, stop
        self.ready = threading.Event()
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name="symphony-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import watchfiles

        try:
            # rust_timeout + yield_on_timeout: the generator yields (an empty set) within 0.2 s
            # of the watch being in place, which is how `ready` learns it; it also wakes up to
            # see `stop`.
            for batch in watchfiles.watch(
                self.root,
                watch_filter=lambda _change, path: self.relevant(path) is not None,
                debounce=50,
                step=20,
                stop_event=self.stop,
                rust_timeout=200,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                self.ready.set()
                paths = sorted(p for _, path in batch if (p := self.relevant(path)) is not None)
                if paths:
                    self.changes.add(paths)
        except Exception as e:  # reported by the main thread, which then stops
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.ready.set()

    @property
    def failed(self) -> bool:
        return self.error is not None and not self.thread.is_alive()


def _run_once(
    runner: Runner,
    melody: str,
    params: list[str],
    stop: threading.Event,
    seen: set[str] | None = None,
) -> bool:
    """One run of the melody as ``symphony run`` shows it, then the melodies that run after it
    (``triggers.after``); False when one was cancelled or the watch is to stop (``stop``: a
    SIGTERM/SIGHUP between runs). ``seen``: melodies of this chain."""
    from symphony_cli.melody_cmd import parse_params

    if stop.is_set():
        return False
    display = _Display(json_=False)
    try:
        loaded, _path = runner.load(melody)
        job = runner.new_run(melody, parse_params(params, loaded))
    except SymphonyError as e:
        say(f"symphony: error: {e.message}")
        say("still watching; the next change to the melody or its files runs it again")
        return True
    runner.listeners[:] = [display.event]
    say(f"run {job.run_id}: {job.melody.name} ({len(job.rows)} steps)")
    summary = _drive(job, display, title=job.melody.name)
    with contextlib.suppress(typer.Exit):  # a failed run is reported; the watch goes on
        _finish(summary, display)
    if display.interrupted:  # Ctrl-C stops the watch, even when the run finished first
        return False
    if summary.state.value == "completed":
        chain = seen if seen is not None else set()
        chain.add(job.melody.name)
        return _run_followers(runner, job.melody.name, chain, stop)
    return summary.state.value != "cancelled"


def _run_followers(runner: Runner, name: str, seen: set[str], stop: threading.Event) -> bool:
    """Run the workspace's melodies whose ``triggers.after`` names ``name`` (each once per
    chain, so two melodies naming each other cannot loop); False when one was cancelled."""
    from engine.melody.loader import list_melodies, load_melody

    for path in list_melodies(runner.workspace):
        try:
            follower = load_melody(path, source=str(path))
        except SymphonyError:
            continue
        if name not in follower.triggers.after or follower.name in seen:
            continue
        seen.add(follower.name)
        say(f"after {name}: {follower.name}")
        if not _run_once(runner, str(path), [], stop, seen):
            return False
    return True


def watch(
    ctx: typer.Context,
    melody: Annotated[
        str, typer.Argument(metavar="MELODY", help="A melody NAME (.symphony/melodies/) or a file.")
    ],
    param: ParamOption = None,
    debounce_ms: Annotated[
        int,
        typer.Option(
            "--debounce-ms", min=0, help="Quiet time after a change before the run starts."
        ),
    ] = 300,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Run a melody now and again whenever files matching its trigger globs change."""
    from engine.config.paths import resolve_state_dir
    from engine.files.globs import GlobError, compile_globs
    from symphony_cli.melody_cmd import parse_params

    root = resolve_workspace(workspace)
    debounce = debounce_ms / 1000
    stop = threading.Event()
    with _runner(ctx, root) as runner:
        # A melody that cannot run fails now (exit 2); later edits that break it are reported
        # and the watch goes on.
        loaded, path = runner.load(melody)
        runner.check(loaded, str(path), parse_params(param or [], loaded))
        patterns = loaded.triggers.files
        try:
            globs = compile_globs(patterns)
        except GlobError as e:
            raise UsageError(f"{path}: triggers.files: {e}") from e
        state_dir = resolve_state_dir(root, runner.engine.config.core.state_dir).resolve()
        state = state_dir.relative_to(root).as_posix() if state_dir.is_relative_to(root) else None
        melody_file = path.resolve()
        mine = (
            melody_file.relative_to(root).as_posix() if melody_file.is_relative_to(root) else None
        )
        changes = _Changes()
        relevant = _relevant(root, globs, state, mine)
        watcher = _Watcher(root, relevant, changes, stop)

        def on_term(_sig: int, _frame: Any) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_term) for sig in TERM_SIGNALS}
        try:
            watcher.ready.wait(10)
            if watcher.failed:
                raise SymphonyError(f"cannot watch {root}: {watcher.error}")
            if globs is None:
                say(
                    f"{loaded.name} has no triggers.files; watching every file .gitignore does"
                    f" not ignore in {root} — Ctrl-C to stop"
                )
            else:
                n = len(patterns)
                say(
                    f"watching {n} glob{'s' if n != 1 else ''} in {root}"
                    f" ({', '.join(patterns)}) — Ctrl-C to stop"
                )
            every = loaded.triggers.every_s
            if every is not None:
                say(f"and running it every {every:g} s (triggers.every_s)")
            running = _run_once(runner, melody, param or [], stop)
            next_due = None if every is None else time.monotonic() + every
            while running and not stop.is_set():
                if watcher.failed:
                    raise SymphonyError(f"stopped watching {root}: {watcher.error}")
                if next_due is not None and time.monotonic() >= next_due:
                    say(f"schedule: every {every:g} s")
                    running = _run_once(runner, melody, param or [], stop)
                    next_due = time.monotonic() + (every or 0)
                    continue
                if not changes.arrived.wait(0.2):
                    continue
                start = time.monotonic()
                while not stop.is_set() and changes.quiet_for() < debounce:
                    if time.monotonic() - start >= MAX_BURST * max(debounce, 0.05):
                        break
                    time.sleep(min(0.05, max(debounce - changes.quiet_for(), 0.005)))
                if stop.is_set():
                    break
                paths = changes.take()
                if not paths:
                    continue
                more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
                say(f"change: {paths[0]}{more}")
                running = _run_once(runner, melody, param or [], stop)
                if next_due is not None:
                    next_due = time.monotonic() + (every or 0)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            watcher.thread.join(5)
    say("stopped watching")
