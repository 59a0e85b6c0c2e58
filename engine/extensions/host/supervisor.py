"""An extension in its own process, as the extension manager sees it.

:class:`HostedExtension` stands where an in-process extension instance would: the manager calls
``activate(ctx)``, its step handlers and ``deactivate()`` exactly as for an in-process one. Behind
them, it starts ``python -m engine.extensions.host`` (with the manifest's resource limits, in a
bubblewrap sandbox where available) connected to a private IPC server of its own — its own
secret, its own socket folder — and forwards each call. The host asks back for files, processes
and artifacts; :class:`~engine.extensions.host.capabilities.Capabilities` serves those from the
call's permission-checked context.

When the process dies (a crash, ``os._exit``, a signal, the memory limit) calls in flight fail
with the reason and the host is started again after a backoff (0.5 s, 1 s, 2 s…) and activated
again; after :data:`MAX_CRASHES` crashes within :data:`CRASH_WINDOW_S` it is not restarted and
calls fail with "crashed N times": the manager marks the extension failed. A call that outlives
its timeout is cancelled, and if the host does not answer within :data:`CANCEL_GRACE_S` it is
killed (a hung extension) and restarted like after a crash.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extensions.host.capabilities import Capabilities
from engine.extensions.host.runner import HOST_SETTINGS, SPEC_VARIABLE
from engine.extensions.host.sandbox import limits, sandbox_problem, sandboxed
from engine.extensions.host.wire import ForeignError, unwrap
from engine.ipc import Server, runtime_dir
from engine.types.errors import (
    Cancelled,
    ExtensionError,
    IpcError,
    IpcRemoteError,
    IpcTimeout,
)
from symphony_sdk.base import Extension

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.extensions.context import LocalContext, LocalStepContext
    from engine.extensions.manifest import Manifest
    from symphony_sdk.context import ExtensionContext

__all__ = ["CANCEL_GRACE_S", "CRASH_WINDOW_S", "MAX_CRASHES", "HostedExtension"]

log = logging.getLogger("symphony.extensions")

#: Crashes within the window after which a host is not restarted.
MAX_CRASHES = 3
CRASH_WINDOW_S = 60.0
#: First restart delay; doubled after each crash in the window.
BACKOFF_S = 0.5
#: How long a cancelled call may take to stop before its host is killed.
CANCEL_GRACE_S = 2.0
#: Lines of the host's stderr kept for crash reports.
STDERR_LINES = 20
#: Seconds a motif's render or on_event may take in its host.
MOTIF_CALL_TIMEOUT_S = 30.0


class HostedExtension(Extension):
    """One extension served by a host process (see the module docs).

    Args:
        manifest: the extension's manifest.
        folder: the extension's folder (read-only in the sandbox).
        import_root: the folder to put on ``sys.path`` for its entry.
        workspace: the workspace root (passed to the extension, never mounted).
        start_timeout: seconds the host may take to start and load the extension.
        sandbox: ``None`` to sandbox where possible, ``False`` never.
        on_gave_up: told why, once the host crashed too often to be restarted.
    """

    def __init__(
        self,
        manifest: Manifest,
        *,
        folder: Path,
        import_root: Path | None,
        workspace: Path,
        start_timeout: float = 30.0,
        sandbox: bool | None = None,
        on_gave_up: Callable[[str], object] | None = None,
    ) -> None:
        self.manifest = manifest
        self.id = manifest.id
        self.folder = folder
        self.import_root = import_root
        self.workspace = workspace
        self.start_timeout = start_timeout
        self.sandboxed = sandbox is not False and sandbox_problem() is None
        self.capabilities = Capabilities(self.id)
        self.step_types: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._process: subprocess.Popen[bytes] | None = None
        self._server: Server | None = None
        self._base: tempfile.TemporaryDirectory[str] | None = None
        self._folder: Path | None = None
        self._reader: threading.Thread | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._crashes: deque[float] = deque()
        self._context: LocalContext | None = None
        self._settings: dict[str, Any] = {}
        self._closing = False
        self._gave_up = ""
        self._on_gave_up = on_gave_up
        self._watch_lock = threading.Lock()
        self._inflight: dict[int, list[Any]] = {}
        self._watcher: threading.Thread | None = None
        self._crashed: subprocess.Popen[bytes] | None = None
        self._motif_refresh: Callable[[str | None], object] | None = None

    # --- what the manager calls --------------------------------------------------------------

    def load(self) -> dict[str, Callable[[LocalStepContext, Mapping[str, Any]], dict[str, Any]]]:
        """Start the host and load the extension; returns a handler per step type it has."""
        with self._lock:
            self._start()
        return {step_type: self._handler(step_type) for step_type in self.step_types}

    def activate(self, ctx: ExtensionContext) -> None:
        """Activate the extension in its host with ``ctx`` serving its requests."""
        from engine.extensions.context import LocalContext

        if not isinstance(ctx, LocalContext):
            raise ExtensionError("a hosted extension is activated with the engine's context")
        context = ctx
        with self._lock:
            self._context = context
            self._settings = dict(context.settings)
            if self._server is None or self.pid is None:
                self._start()  # shut down since loading (disabled, then enabled again)
            self._activate()

    def deactivate(self) -> None:
        """Deactivate the extension and stop its host."""
        with self._lock:
            self._closing = True
            server = self._server
            peer = server.peer(self.id) if server is not None else None
            if peer is not None:
                with contextlib.suppress(IpcError, ExtensionError):
                    unwrap(peer.call("host.deactivate", {}, timeout=5.0))
            self._stop()

    def shutdown(self) -> None:
        """Stop the host without deactivating (it was never activated, or already was)."""
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        """The host process's id (None when not running)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    # --- calls -------------------------------------------------------------------------------

    def _handler(
        self, step_type: str
    ) -> Callable[[LocalStepContext, Mapping[str, Any]], dict[str, Any]]:
        def run(ctx: LocalStepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
            return dict(self.call(step_type, ctx, inputs))

        return run

    def call(self, step_type: str, ctx: LocalStepContext, inputs: Mapping[str, Any]) -> Any:
        """Run one step in the host, serving its requests from ``ctx``.

        The call is made on the caller's thread; the cancellation watcher tells the host when
        ``ctx``'s cancel event is set, and kills it if it does not stop in time."""
        server = self._ready()
        call = next(self._ids)
        self.capabilities.open(call, ctx)
        self._watch(call, ctx)
        params = {"call": call, "step_type": step_type, "inputs": dict(inputs)}
        try:
            peer = server.wait_for_peer(self.id, 1.0)
            reply = peer.call("host.step", params, timeout=7 * 86400.0)
        except IpcError as e:
            if not isinstance(e, IpcRemoteError):
                self._note_crash(str(e))
            if ctx.cancel_event.is_set():
                raise Cancelled(
                    f"step {step_type} ({self.id}) was cancelled (its host was restarted)"
                ) from None
            raise self._failure(e, step_type) from e
        finally:
            self._unwatch(call)
            self.capabilities.close(call)
        try:
            return unwrap(reply)
        except ForeignError as e:  # the extension's own exception: reported as in-process
            message = str(e).strip()
            detail = f"{type(e).__name__}: {message}" if message else type(e).__name__
            raise ExtensionError(f"step {step_type} ({self.id}) failed: {detail}") from e

    # --- motifs ------------------------------------------------------------------------------

    def motif_call(self, method: str, params: Mapping[str, Any]) -> Any:
        """Call ``host.motif.<method>`` (``render`` or ``event``) in the host and return the
        result; a motif's own exception is an :class:`ExtensionError` naming it.

        Raises:
            ExtensionError: the call failed, or the host is gone (it is restarted next time).
        """
        server = self._ready()
        try:
            peer = server.wait_for_peer(self.id, 1.0)
            reply = peer.call(f"host.motif.{method}", dict(params), timeout=MOTIF_CALL_TIMEOUT_S)
        except IpcError as e:
            if not isinstance(e, IpcRemoteError):
                self._note_crash(str(e))
            why = str(e) if isinstance(e, IpcRemoteError) else self._gave_up or self._exit_reason()
            raise ExtensionError(f"motif {self.id}: {method} failed: {why}") from e
        try:
            return unwrap(reply)
        except ForeignError as e:
            message = str(e).strip()
            detail = f"{type(e).__name__}: {message}" if message else type(e).__name__
            raise ExtensionError(f"motif {self.id}: {method} failed: {detail}") from e

    def connect_refresh(self, sink: Callable[[str | None], object] | None) -> None:
        """Call ``sink(panel)`` when the motif in the host asks to be rendered again."""
        self._motif_refresh = sink

    def _on_motif_refresh(self, _peer: object, _topic: str, data: Any) -> None:
        sink = self._motif_refresh
        panel = data.get("panel") if isinstance(data, dict) else None
        if sink is not None:
            sink(panel if isinstance(panel, str) else None)

    # --- cancellation ------------------------------------------------------------------------

    def _watch(self, call: int, ctx: LocalStepContext) -> None:
        with self._watch_lock:
            self._inflight[call] = [ctx, None]
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(
                    target=self._watch_loop, name=f"ext-host:{self.id}:cancel", daemon=True
                )
                self._watcher.start()

    def _unwatch(self, call: int) -> None:
        with self._watch_lock:
            self._inflight.pop(call, None)

    def _watch_loop(self) -> None:
        """While calls are in flight: pass cancellations on, kill a host that ignores them."""
        while True:
            time.sleep(0.05)
            with self._watch_lock:
                if not self._inflight:
                    self._watcher = None
                    return
                entries = list(self._inflight.items())
            now = time.monotonic()
            for call, entry in entries:
                ctx, cancelled_at = entry
                if cancelled_at is None and ctx.cancel_event.is_set():
                    entry[1] = now
                    self._notify("host.cancel", {"call": call})
                elif cancelled_at is not None and now - cancelled_at > CANCEL_GRACE_S:
                    log.warning("extension %s ignored a cancellation: killing its host", self.id)
                    self._kill(f"it did not stop within {CANCEL_GRACE_S:g} s of a cancellation")
                    break

    def _failure(self, error: BaseException, step_type: str) -> BaseException:
        if isinstance(error, IpcRemoteError):  # refused (busy, rate limited…), not gone
            return ExtensionError(f"step {step_type} ({self.id}) failed: {error}")
        if isinstance(error, IpcError):  # the connection is gone (IpcTimeout included)
            why = self._gave_up or self._exit_reason()
            return ExtensionError(f"step {step_type} ({self.id}) failed: the host {why}")
        return error

    def _notify(self, topic: str, data: Any) -> None:
        server = self._server
        peer = server.peer(self.id) if server is not None else None
        if peer is not None:
            with contextlib.suppress(IpcError):
                peer.notify(topic, data)

    # --- the process -------------------------------------------------------------------------

    def _ready(self) -> Server:
        """The server of a running, activated host (restarting it after a crash)."""
        with self._lock:
            if self._gave_up:
                raise ExtensionError(f"extension {self.id} {self._gave_up}")
            server = self._server
            if server is None or self.pid is None or server.peer(self.id) is None:
                if server is not None:
                    self._note_crash("found gone")
                self._restart()
            assert self._server is not None
            return self._server

    def _start(self) -> None:
        self._closing = False
        base = self._base = tempfile.TemporaryDirectory(prefix=f"symphony-host-{self.id}-")
        # Short names: a Unix socket path must fit in 108 bytes.
        folder = self._folder = runtime_dir() / f"h{secrets.token_hex(4)}"
        server = Server(
            "unix",
            name="host",
            folder=folder,
            settings=HOST_SETTINGS,
            on_disconnect=lambda peer, reason: self._disconnected(reason),
        )
        self.capabilities.register(server)
        server.on_event("motif.refresh", self._on_motif_refresh)
        server.start()
        self._server = server
        argv = [sys.executable, "-m", "engine.extensions.host"]
        spec = {
            "id": self.id,
            "entry": self.manifest.extension.entry,
            "type": self.manifest.extension.type,
            "import_root": str(self.import_root) if self.import_root else None,
            "workspace": str(self.workspace),
        }
        runtime = self.manifest.runtime
        if self.sandboxed:
            readable = [self.folder] + ([self.import_root] if self.import_root else [])
            argv = sandboxed(
                argv,
                readable=readable,
                writable=[folder, Path(base.name)],
                network=bool(self.manifest.permissions.network),
            )
        env = {k: v for k, v in os.environ.items() if k in _HOST_ENV or k.startswith("LC_")}
        env.update(server.child_env())
        env[SPEC_VARIABLE] = json.dumps(spec)
        env["TMPDIR"] = base.name
        self._stderr.clear()
        self.capabilities.scratch_root = Path(base.name)
        process = spawn(
            argv,
            env=env,
            cwd=base.name,
            preexec_fn=limits(runtime.memory_mb, runtime.cpu_s),
        )
        self._process = process
        self._reader = threading.Thread(
            target=self._read_stderr,
            args=(process,),
            name=f"ext-host:{self.id}:stderr",
            daemon=True,
        )
        self._reader.start()
        try:
            peer = server.wait_for_peer(self.id, self.start_timeout)
            self.step_types = list(unwrap(peer.call("host.load", {}, timeout=self.start_timeout)))
        except IpcTimeout:
            self._kill("it did not start in time")
            self._stop()
            raise ExtensionError(
                f"its host did not start within {self.start_timeout:g} s: {self._exit_reason()}"
            ) from None
        except BaseException:
            self._stop()  # the extension did not load: no host left behind
            raise

    def _activate(self) -> None:
        server = self._server
        if server is None or self._context is None:
            raise ExtensionError(f"extension {self.id} is not loaded")
        self.capabilities.open(0, self._context)
        peer = server.wait_for_peer(self.id, self.start_timeout)
        timeout = self.manifest.runtime.activation_timeout_s or self.start_timeout
        try:
            unwrap(peer.call("host.activate", {"settings": self._settings}, timeout=timeout))
        except IpcTimeout:
            # A hung activate: end the host rather than leave it running.
            self._kill(f"activate did not finish within {timeout:g} s")
            self._stop()
            raise ExtensionError(f"activate did not finish within {timeout:g} s") from None

    def _restart(self) -> None:
        """Start the host again after a crash, waiting out the backoff."""
        now = time.monotonic()
        while self._crashes and now - self._crashes[0] > CRASH_WINDOW_S:
            self._crashes.popleft()
        if len(self._crashes) >= MAX_CRASHES:
            self._gave_up = f"crashed {len(self._crashes)} times within {CRASH_WINDOW_S:g} s"
            self._stop()
            if self._on_gave_up is not None:
                self._on_gave_up(f"its process {self._gave_up}; it is not restarted")
            raise ExtensionError(f"extension {self.id} {self._gave_up}; it is not restarted")
        if self._crashes:
            delay = BACKOFF_S * 2 ** (len(self._crashes) - 1) - (now - self._crashes[-1])
            if delay > 0:
                time.sleep(delay)
        self._stop()
        log.warning("restarting the host of extension %s", self.id)
        self._start()
        if self._context is not None:
            self._activate()

    def _disconnected(self, reason: str) -> None:
        if not self._closing:
            self._note_crash(reason)

    def _note_crash(self, reason: str) -> None:
        """Count the running host's end as a crash, once (the disconnect callback and a failed
        call may both report it, in either order)."""
        process = self._process
        with self._watch_lock:
            if process is None or process is self._crashed:
                return
            self._crashed = process
            self._crashes.append(time.monotonic())
        why = self._exit_reason()
        log.warning("the host of extension %s is gone: %s (%s)", self.id, why, reason)

    def _exit_reason(self) -> str:
        process = self._process
        code = process.poll() if process is not None else None
        if code is None and process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(0.5)
        what = "stopped" if code is None else _describe_exit(code)
        tail = " | ".join(line for line in self._stderr if line.strip())[-800:]
        return f"{what}{': ' + tail if tail else ''}"

    def _kill(self, why: str) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5.0)
            log.warning("killed the host of extension %s: %s", self.id, why)

    def _stop(self) -> None:
        """Stop the host process and its server, and remove their folders."""
        self._closing = True
        server, self._server = self._server, None
        process, base = self._process, self._base
        if server is not None:
            server.close()
        if process is not None:
            try:
                process.wait(2.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(5.0)
        if self._reader is not None:
            self._reader.join(2.0)  # it closes the pipe at the end of the output
            self._reader = None
        if base is not None:
            base.cleanup()
            self._base = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._closing = False

    def _read_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        with process.stderr:
            for raw in process.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self._stderr.append(line)
                log.debug("host %s: %s", self.id, line)


class _Spawner:
    """Starts host processes from one long-lived thread.

    Linux ties a child's parent-death signal (bwrap's ``--die-with-parent``) to the thread
    that forked it, not the process: a host started from a short-lived activation thread
    would be killed when that thread ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="ext-host-spawner", daemon=True
                )
                self._thread.start()
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as e:
                future.set_exception(e)


_SPAWNER = _Spawner()


def spawn(
    argv: list[str], *, env: dict[str, str], cwd: str, preexec_fn: Callable[[], None] | None
) -> subprocess.Popen[bytes]:
    """Start a host process (from the spawner thread; see :class:`_Spawner`)."""

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            preexec_fn=preexec_fn,
            start_new_session=True,
        )

    process: subprocess.Popen[bytes] = _SPAWNER.run(start)
    return process


#: Variables a host keeps from the engine's environment (the extension's own processes are
#: started by the engine, with the variables its ``env`` permission allows).
_HOST_ENV = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "VIRTUAL_ENV"})


def _describe_exit(code: int) -> str:
    if code < 0:
        import signal

        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"
