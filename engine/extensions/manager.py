"""The extension manager: registry, loading, activation and step calls of in-process extensions.

Start-up discovers every extension (reading manifests only), registers new ones and checks the
pinned manifest hash of known ones, then loads the enabled ones and activates those that ask for
``on_startup`` — all in parallel, each on its own daemon thread, waiting at most the activation
timeout. An import error, an exception in ``activate`` or an ``activate`` that never returns
marks only that extension ``failed`` with the reason; a late ``activate`` that finishes after its
deadline is deactivated and stays failed. Everything else activates lazily on its first call
or on a matching activation event (:meth:`ExtensionManager.fire`).

Calls (:meth:`ExtensionManager.call`) validate inputs against the step's declaration, give the
extension a fresh :class:`~engine.extensions.context.LocalStepContext` with a scratch folder, a
cancel event (set on cancellation and when the call timeout passes) and a progress sink, check the
outputs, and record duration and outcome as metrics. Every permission decision goes to the audit
log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.extensions.context import LocalContext, LocalStepContext
from engine.extensions.lifecycle import ExtensionStatus, State, can_move
from engine.extensions.loading import load_extension
from engine.extensions.manifest import check_symphony_version
from engine.extensions.messages import ExtensionStateChanged
from engine.extensions.permissions import Decision, PermissionGuard
from engine.extensions.steps import check_inputs, check_outputs
from engine.extensions.store import AuditRecord, CallRecord, CallStats, percentile
from engine.extensions.timers import Deadlines
from engine.types.errors import (
    Cancelled,
    ExtensionError,
    PermissionDenied,
    StepInputError,
    SymphonyError,
    UsageError,
)
from engine.types.messages import ComponentHealth, Event, HealthStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping
    from pathlib import Path

    from engine.extensions.discovery import Found
    from engine.extensions.manifest import Manifest, StepTypeSpec
    from engine.extensions.store import ExtensionsDB, RegistryRow
    from engine.instruments.models import Models as ModelRegistry
    from engine.pit.artifacts.store import ArtifactStore
    from symphony_sdk.base import Extension

__all__ = ["AuditLog", "ExtensionManager", "StepOutcome", "StepProvider"]

log = logging.getLogger("symphony.extensions")

DEACTIVATE_TIMEOUT_S = 5.0
METRIC_WINDOW = 10_000


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one successful step call produced."""

    extension: str
    step_type: str
    outputs: dict[str, Any]
    duration_ms: float


class StepProvider(Protocol):
    """Step types from outside the extensions (MCP servers: :mod:`engine.mcp.steps`).

    The provider checks permissions, audits and records metrics of its own calls; the manager
    checks the inputs against the declaration first.
    """

    def owns(self, provider: str) -> bool: ...

    def step_types(
        self, names: Collection[str] | None = None
    ) -> dict[str, list[tuple[str, StepTypeSpec]]]: ...

    def call(
        self,
        step_type: str,
        provider: str,
        values: Mapping[str, Any],
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[float | None, str], None] | None = None,
        timeout: float | None = None,
    ) -> StepOutcome: ...

    def stop(self) -> None: ...


class AuditLog:
    """Buffer permission decisions and call records, and write them to the database in batches.

    A denial is written at once (and logged as a warning); everything else within
    ``delay_s`` of being recorded (sooner when ``batch`` records are waiting), and at
    :meth:`flush`, which the manager calls when it stops. One transaction per batch keeps the
    cost of auditing off the step calls.
    """

    def __init__(
        self,
        db: ExtensionsDB | None,
        workspace: Path,
        deadlines: Deadlines,
        *,
        batch: int = 256,
        delay_s: float = 1.0,
    ) -> None:
        self._db = db
        self._workspace = str(workspace)
        self._deadlines = deadlines
        self._batch = batch
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._pending: list[AuditRecord] = []
        self._calls: list[CallRecord] = []
        self._scheduled = False

    def record(
        self, extension: str, permission: str, target: str, decision: Decision, detail: str
    ) -> None:
        rec = AuditRecord(
            time.time(), self._workspace, extension, permission, target, decision, detail
        )
        with self._lock:
            self._pending.append(rec)
            full = len(self._pending) >= self._batch
        if decision == "denied":
            log.warning("denied: %s %s %r (%s)", extension, permission, target, detail)
        if decision == "denied" or full:
            self.flush()
        else:
            self._schedule()

    def call(self, record: CallRecord) -> None:
        """Record one step call (for metrics)."""
        with self._lock:
            self._calls.append(record)
            full = len(self._calls) >= self._batch
        if full:
            self.flush()
        else:
            self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._deadlines.call_later(self._delay_s, self.flush)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            calls, self._calls = self._calls, []
            self._scheduled = False
        if self._db is None:
            return
        try:
            self._db.add_audit(pending)
            self._db.add_calls(calls)
        except SymphonyError as e:
            log.error("audit or call records lost: %s", e)


@dataclass
class _Metrics:
    calls: int = 0
    errors: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=METRIC_WINDOW))

    def stats(self) -> CallStats:
        values = sorted(self.durations)
        return CallStats(
            calls=self.calls,
            errors=self.errors,
            p50_ms=percentile(values, 50),
            p95_ms=percentile(values, 95),
            p99_ms=percentile(values, 99),
        )


@dataclass
class _Record:
    found: Found
    id: str
    state: State = State.DISCOVERED
    reason: str = ""
    enabled: bool = True
    instance: Extension | None = None
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    context: LocalContext | None = None
    guard: PermissionGuard | None = None
    metrics: _Metrics = field(default_factory=_Metrics)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one load/activate at a time
    inflight: int = 0  # step calls running now (guarded by `idle`)
    idle: threading.Condition = field(default_factory=threading.Condition)

    @property
    def manifest(self) -> Manifest:
        assert self.found.manifest is not None
        return self.found.manifest


class ExtensionManager:
    """Own the extensions of one workspace.

    Args:
        workspace: the workspace root (paths in permissions are relative to it).
        found: the discovery result (see :func:`engine.extensions.discovery.discover`).
        db: the user's extension database (registry, audit, metrics); None keeps them in memory.
        store: opens the workspace's artifact store (called on first artifact use).
        activation_timeout_s: default bound of loading plus activating one extension.
        enabled / disabled: the configuration's ``extensions.enabled`` / ``.disabled``.
        settings: ``extensions.settings``: each extension's settings by id.
        emit: publishes lifecycle events (the bus).
        environ: the environment extensions may read from (default ``os.environ``).
        models: the configured AI models extensions call through ``ctx.models`` (None: none).
    """

    def __init__(
        self,
        workspace: Path,
        found: Iterable[Found],
        *,
        db: ExtensionsDB | None,
        store: Callable[[], ArtifactStore],
        activation_timeout_s: float = 10.0,
        enabled: Iterable[str] = (),
        disabled: Iterable[str] = (),
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        emit: Callable[[Event], None] | None = None,
        environ: Mapping[str, str] | None = None,
        models: ModelRegistry | None = None,
    ) -> None:
        self.workspace = workspace.resolve()
        self._db = db
        self._models = models
        self._store = store
        self._timeout = activation_timeout_s
        self._config_enabled = set(enabled)
        self._config_disabled = set(disabled)
        self._settings = dict(settings or {})
        self._emit = emit or (lambda _e: None)
        self._environ = environ
        self._deadlines = Deadlines()
        self._stopping = False
        self.audit = AuditLog(db, self.workspace, self._deadlines)
        self._lock = threading.RLock()
        self._records: dict[str, _Record] = {}
        self._broken: list[_Record] = []  # invalid manifests and duplicate ids
        self._step_providers: list[StepProvider] = []
        for item in found:
            self._add(item)

    # --- registry ------------------------------------------------------------------------------

    def _add(self, item: Found) -> None:
        if item.manifest is None:
            rec = _Record(item, id=item.path.name, state=State.FAILED, reason=item.error or "")
            self._broken.append(rec)
            return
        ext_id = item.manifest.id
        if ext_id in self._records:
            other = self._records[ext_id].found.path
            rec = _Record(
                item,
                id=ext_id,
                state=State.FAILED,
                reason=f"id {ext_id!r} is already provided by {other}",
            )
            self._broken.append(rec)
            return
        self._records[ext_id] = _Record(item, id=ext_id)

    def _register(self) -> None:
        pinned = self._db.registry() if self._db is not None else {}
        for rec in self._records.values():
            self._register_one(rec, pinned)

    def _register_one(self, rec: _Record, pinned: Mapping[str, RegistryRow]) -> None:
        found = rec.found
        row = pinned.get(rec.id)
        assert found.digest is not None
        untrusted_new = row is None and not found.trusted
        builtin = found.source == "builtin"
        if row is not None and not builtin and row.path != str(found.path):
            self._move(
                rec,
                State.FAILED,
                f"another extension claims the id {rec.id}: {found.path} (the registered"
                f" one is {row.path}); `symphony ext enable {rec.id}` switches to this one",
            )
            return
        if row is None or (
            builtin and (row.manifest_hash != found.digest or row.path != str(found.path))
        ):
            # First sight (or a Symphony upgrade of a built-in): pin this manifest. One
            # that only the workspace's configuration names starts disabled.
            self._pin(rec, enabled=not untrusted_new)
            if untrusted_new:
                rec.enabled = False
        elif row.manifest_hash != found.digest:
            self._move(
                rec,
                State.FAILED,
                f"its manifest changed since it was pinned (sha256 {row.manifest_hash[:12]}…,"
                f" now {found.digest[:12]}…); review it with `symphony ext info {rec.id}` and"
                f" accept it with `symphony ext enable {rec.id}`",
            )
            return
        if row is not None and not row.enabled:
            rec.enabled = False
        self._move(rec, State.INSTALLED)
        rec.enabled = rec.enabled and self._config_allows(rec.id)
        if untrusted_new:
            rec.reason = (
                "new, from a folder the workspace's own configuration names: review it"
                f" with `symphony ext info {rec.id}`, enable it with"
                f" `symphony ext enable {rec.id}`"
            )
        elif not rec.enabled:
            rec.reason = self._disabled_reason(rec.id)

    def _pin(self, rec: _Record, *, enabled: bool = True) -> None:
        if self._db is None:
            return
        assert rec.found.digest is not None
        self._db.pin(
            rec.id,
            source=rec.found.source,
            path=str(rec.found.path),
            version=rec.manifest.extension.version,
            digest=rec.found.digest,
            enabled=enabled,
        )

    def _config_allows(self, ext_id: str) -> bool:
        if ext_id in self._config_disabled:
            return False
        return not self._config_enabled or ext_id in self._config_enabled

    def _disabled_reason(self, ext_id: str) -> str:
        if ext_id in self._config_disabled:
            return "disabled by the configuration (extensions.disabled)"
        if self._config_enabled and ext_id not in self._config_enabled:
            return "not in the configuration's extensions.enabled"
        return "disabled (symphony ext enable to enable it)"

    # --- lifecycle -----------------------------------------------------------------------------

    def _move(self, rec: _Record, state: State, reason: str = "") -> bool:
        with self._lock:
            if not can_move(rec.state, state):
                return False
            rec.state = state
            rec.reason = reason
        if state is State.FAILED:
            log.warning("extension %s failed: %s", rec.id, reason)
        self._emit(ExtensionStateChanged(id=rec.id, state=state, reason=reason))
        return True

    def start(self) -> None:
        """Register, load and activate (``on_startup``) the enabled extensions, in parallel.

        Returns after every one is done or its activation timeout passed, whichever is first.
        """
        self._register()
        jobs: list[tuple[_Record, threading.Thread, float]] = []
        for rec in self._records.values():
            if rec.state is not State.INSTALLED or not rec.enabled:
                continue
            thread = threading.Thread(
                target=self._bring_up,
                args=(rec, rec.manifest.activates_on_startup()),
                name=f"ext-start:{rec.id}",
                daemon=True,  # a hung activate must not keep the process alive
            )
            thread.start()
            jobs.append((rec, thread, time.monotonic() + self._timeout_of(rec)))
        for rec, thread, deadline in jobs:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                step = "activating" if rec.state is State.ACTIVATING else "loading"
                self._move(
                    rec,
                    State.FAILED,
                    f"{step} did not finish within {self._timeout_of(rec):g} s",
                )

    def _timeout_of(self, rec: _Record) -> float:
        if rec.found.manifest is None:
            return self._timeout
        return rec.manifest.runtime.activation_timeout_s or self._timeout

    def _bring_up(self, rec: _Record, activate: bool) -> None:
        with rec.lock:
            if not self._load(rec):
                return
            if activate:
                self._activate(rec)

    def _load(self, rec: _Record) -> bool:
        """Import the entry, instantiate it and match its steps to the manifest."""
        if rec.state in (State.LOADED, State.ACTIVE, State.INACTIVE):
            return True
        if rec.state is not State.INSTALLED:
            return False
        manifest = rec.manifest
        try:
            check_symphony_version(manifest.extension.symphony)
            settings = check_inputs(
                f"settings of {rec.id} (extensions.settings.{rec.id})",
                manifest.contributes.settings,
                self._settings.get(rec.id, {}),
            )
            instance, handlers = self._instantiate(rec)
            guard = PermissionGuard(rec.id, manifest.permissions, self.workspace, self.audit.record)
        except BaseException as e:  # anything the extension's import or constructor raises
            self._move(rec, State.FAILED, _reason("loading", e))
            return False
        declared = {s.type for s in manifest.contributes.steps}
        missing = sorted(declared - set(handlers))
        extra = sorted(set(handlers) - declared)
        if missing or extra:
            what = (
                f"step type {missing[0]!r} is declared but has no @step method"
                if missing
                else f"@step({extra[0]!r}) is not declared in the manifest"
            )
            self._move(rec, State.FAILED, what)
            _shutdown(instance)
            return False
        with self._lock:
            rec.instance, rec.handlers, rec.guard = instance, handlers, guard
            rec.context = LocalContext(
                guard,
                version=manifest.extension.version,
                store=self._store,
                settings=settings,
                environ=self._environ,
                models=self._models,
            )
        return self._move(rec, State.LOADED)

    def _instantiate(self, rec: _Record) -> tuple[Extension, dict[str, Any]]:
        """The extension's instance and step handlers: in this process, or behind a host
        process (``runtime.isolation = "process"``, the default for all but built-ins)."""
        if isolation_of(rec.found, rec.manifest) == "process":
            from engine.extensions.host import HostedExtension

            hosted = HostedExtension(
                rec.manifest,
                folder=rec.found.path,
                import_root=rec.found.import_root,
                workspace=self.workspace,
                start_timeout=self._timeout_of(rec),
                on_gave_up=lambda reason: self._move(rec, State.FAILED, reason),
            )
            return hosted, hosted.load()
        from symphony_sdk.base import step_handlers

        instance = _instantiate(rec.found, rec.manifest)
        return instance, dict(step_handlers(instance))

    def _activate(self, rec: _Record) -> bool:
        """Run ``activate`` (the caller holds ``rec.lock`` and bounds the wait)."""
        if rec.state is State.ACTIVE:
            return True
        if not self._move(rec, State.ACTIVATING):
            return False
        assert rec.instance is not None and rec.context is not None
        try:
            rec.instance.activate(rec.context)
        except BaseException as e:  # SystemExit too: extension code must not end Symphony
            self._move(rec, State.FAILED, _reason("activate", e))
            return False
        if self._stopping:
            # stop() ran while activate did: undo it rather than leave it running.
            _deactivate_quietly(rec)
            for state in (State.ACTIVE, State.DEACTIVATING, State.INACTIVE):
                self._move(rec, state)
            return False
        if not self._move(rec, State.ACTIVE):
            # The deadline passed while activate ran: it stays failed; let it clean up.
            _deactivate_quietly(rec)
            return False
        return True

    def _ensure_active(self, rec: _Record) -> None:
        """Load and activate ``rec`` now (lazy activation), bounded by its timeout."""
        if rec.state is State.ACTIVE:
            return
        if not rec.enabled:
            raise ExtensionError(f"extension {rec.id} is disabled: {rec.reason}")
        if rec.state is State.FAILED:
            raise ExtensionError(f"extension {rec.id} failed: {rec.reason}")
        timeout = self._timeout_of(rec)
        done = threading.Event()

        def bring_up() -> None:
            try:
                self._bring_up(rec, True)
            finally:
                done.set()

        threading.Thread(target=bring_up, name=f"ext-activate:{rec.id}", daemon=True).start()
        if not done.wait(timeout):
            self._move(rec, State.FAILED, f"activating did not finish within {timeout:g} s")
        if not _is_active(rec):
            raise ExtensionError(f"extension {rec.id} failed: {rec.reason}")

    def _deactivate(self, rec: _Record) -> None:
        if rec.state is not State.ACTIVE:
            return
        self._move(rec, State.DEACTIVATING)
        with rec.idle:  # let the calls in flight finish first (bounded)
            rec.idle.wait_for(lambda: rec.inflight == 0, DEACTIVATE_TIMEOUT_S)
        done = threading.Event()

        def run() -> None:
            try:
                if rec.instance is not None:
                    rec.instance.deactivate()
            except BaseException as e:
                log.warning("extension %s: deactivate raised %s", rec.id, _reason("", e))
            finally:
                done.set()

        threading.Thread(target=run, name=f"ext-deactivate:{rec.id}", daemon=True).start()
        if done.wait(DEACTIVATE_TIMEOUT_S):
            self._move(rec, State.INACTIVE)
        else:
            self._move(
                rec, State.FAILED, f"deactivate did not finish within {DEACTIVATE_TIMEOUT_S:g} s"
            )

    def stop(self) -> None:
        """Deactivate every active extension, in parallel and each bounded, and flush the
        audit log: stopping takes at most about DEACTIVATE_TIMEOUT_S however many hang."""
        self._stopping = True
        active = [r for r in self._records.values() if r.state is State.ACTIVE]
        threads = [
            threading.Thread(target=self._deactivate, args=(rec,), daemon=True) for rec in active
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * DEACTIVATE_TIMEOUT_S + 1)
        for rec in self._records.values():  # hosts of loaded, failed or inactive extensions
            _shutdown(rec.instance)
        for provider in self._step_providers:
            provider.stop()
        self.audit.flush()
        self._deadlines.close()

    def fire(self, event: str) -> list[str]:
        """Activate, in the background, the loaded extensions listening for ``event``.

        ``event`` is ``on_command:ID``, ``on_step:TYPE`` or ``on_file_open:PATH`` (a
        workspace-relative path matched against the manifests' globs).

        Returns:
            The ids of the extensions being activated.
        """
        import fnmatch

        kind, _, value = event.partition(":")
        woken: list[str] = []
        for rec in self._records.values():
            if not rec.enabled or rec.state not in (State.LOADED, State.INACTIVE):
                continue
            for wanted in rec.manifest.activation:
                w_kind, _, pattern = wanted.partition(":")
                if w_kind != kind:
                    continue
                matched = (
                    fnmatch.fnmatchcase(value, pattern)
                    if kind == "on_file_open"
                    else value == pattern
                )
                if matched:
                    woken.append(rec.id)
                    threading.Thread(target=self._try_activate, args=(rec,), daemon=True).start()
                    break
        return woken

    def _try_activate(self, rec: _Record) -> None:
        try:
            self._ensure_active(rec)
        except ExtensionError as e:
            log.warning("%s", e)

    # --- queries -------------------------------------------------------------------------------

    def _get(self, ext_id: str) -> _Record:
        rec = self._records.get(ext_id) or next((b for b in self._broken if b.id == ext_id), None)
        if rec is None:
            import difflib

            close = difflib.get_close_matches(ext_id, list(self._records), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"no extension {ext_id!r}{hint} (see `symphony ext list`)")
        return rec

    def statuses(self) -> list[ExtensionStatus]:
        """Every extension, the valid ones by id, then the broken ones."""
        with self._lock:
            recs = sorted(self._records.values(), key=lambda r: r.id) + list(self._broken)
            return [_status(r) for r in recs]

    def status(self, ext_id: str) -> ExtensionStatus:
        with self._lock:
            return _status(self._get(ext_id))

    def manifest(self, ext_id: str) -> Manifest:
        return self._get(ext_id).manifest

    def step_types(
        self, names: Collection[str] | None = None
    ) -> dict[str, list[tuple[str, StepTypeSpec]]]:
        """Every step type of an enabled, non-failed extension, with its providers.

        ``names``: the step types wanted (a melody's, a call's); other providers (MCP servers)
        are then not started for nothing. The result may hold more than those."""
        result: dict[str, list[tuple[str, StepTypeSpec]]] = {}
        for rec in sorted(self._records.values(), key=lambda r: r.id):
            if not rec.enabled or rec.state is State.FAILED:
                continue
            for spec in rec.manifest.contributes.steps:
                result.setdefault(spec.type, []).append((rec.id, spec))
        for provider in self._step_providers:
            for name, offers in provider.step_types(names).items():
                result.setdefault(name, []).extend(offers)
        return result

    def step_specs(self, names: Collection[str] | None = None) -> dict[str, StepTypeSpec]:
        """Each step type's declaration (its first provider's): what validation and planners
        read. ``names`` as in :meth:`step_types`."""
        return {name: offers[0][1] for name, offers in self.step_types(names).items() if offers}

    def add_provider(self, provider: StepProvider) -> None:
        """Offer ``provider``'s step types alongside the extensions' (stopped with them)."""
        self._step_providers.append(provider)

    @property
    def providers(self) -> tuple[StepProvider, ...]:
        """The step providers added with :meth:`add_provider`."""
        return tuple(self._step_providers)

    def active_instance(self, ext_id: str) -> Extension:
        """The instance of an enabled extension, loaded and activated first if need be (a
        motif's panel opening activates it, as a step call does).

        Raises:
            UsageError: unknown id.
            ExtensionError: it is disabled, failed, or does not activate in time.
        """
        rec = self._get(ext_id)
        self._ensure_active(rec)
        if rec.instance is None:
            raise ExtensionError(f"extension {ext_id} is not loaded")
        return rec.instance

    def metrics(self, ext_id: str) -> CallStats:
        """This session's call metrics of one extension."""
        return self._get(ext_id).metrics.stats()

    def health(self) -> ComponentHealth:
        statuses = self.statuses()
        failed = [s for s in statuses if s.state is State.FAILED]
        detail: dict[str, int | str] = {
            "extensions": len(statuses),
            "active": sum(1 for s in statuses if s.state is State.ACTIVE),
            "failed": len(failed),
        }
        reasons = [f"{s.id}: {s.reason}" for s in failed]
        hosted = [s for s in statuses if s.isolation == "process" and s.enabled]
        if hosted:
            from engine.extensions.host import sandbox_problem

            problem = sandbox_problem()
            detail["sandbox"] = problem or "bubblewrap"
            if problem:
                reasons.append(
                    f"{len(hosted)} extension(s) in their own process run unsandboxed: {problem}"
                )
        if not reasons:
            return ComponentHealth(name="extensions", status=HealthStatus.HEALTHY, detail=detail)
        return ComponentHealth(
            name="extensions",
            status=HealthStatus.DEGRADED,
            reasons=tuple(reasons),
            detail=detail,
        )

    # --- enable / disable ----------------------------------------------------------------------

    def set_enabled(self, ext_id: str, enabled: bool) -> ExtensionStatus:
        """Enable (accepting its current manifest) or disable an extension, persistently.

        Raises:
            UsageError: unknown id, or the configuration decides otherwise.
        """
        rec = self._get(ext_id)
        if enabled and not self._config_allows(ext_id):
            raise UsageError(f"cannot enable {ext_id}: {self._disabled_reason(ext_id)}")
        if self._db is not None:
            if enabled:
                self._pin(rec)  # accept the manifest as it is now
            self._db.set_enabled(ext_id, enabled)
        if not enabled:
            rec.enabled = False  # first, so no new call starts (or re-activates it)
            rec.reason = self._disabled_reason(ext_id)
            with rec.lock:
                self._deactivate(rec)
                _shutdown(rec.instance)  # a host process of a loaded extension, too
            self._emit(ExtensionStateChanged(id=rec.id, state=rec.state, reason=rec.reason))
            return self.status(ext_id)
        rec.enabled = True
        with self._lock:
            if rec.state in (State.FAILED, State.DISCOVERED):
                _shutdown(rec.instance)  # what is left of the failed one
                rec.state, rec.reason = State.INSTALLED, ""
            elif rec.state is State.INSTALLED:
                rec.reason = ""
        self._emit(ExtensionStateChanged(id=rec.id, state=rec.state, reason=""))
        if rec.manifest.activates_on_startup():
            self._try_activate(rec)
        else:
            with rec.lock:
                self._load(rec)
        return self.status(ext_id)

    def adopt(self, found: Found) -> ExtensionStatus:
        """Take in an extension the installer has just put in place (new, or a new version of
        one this manager knows, which is deactivated and replaced) and load it, activating it
        when it asks for ``on_startup`` — bounded by its activation timeout.

        Raises:
            ExtensionError: its manifest is invalid.
        """
        if found.manifest is None:
            raise ExtensionError(f"{found.path}: {found.error}")
        ext_id = found.manifest.id
        old = self._records.get(ext_id)
        if old is not None:
            old.enabled = False  # first, so no new call starts on the old version
            with old.lock:
                self._deactivate(old)
                _shutdown(old.instance)
        rec = _Record(found, id=ext_id)
        with self._lock:
            self._records[ext_id] = rec
            self._broken = [b for b in self._broken if b.found.path != found.path]
        self._register_one(rec, self._db.registry() if self._db is not None else {})
        if rec.state is State.INSTALLED and rec.enabled:
            self._bring_up_within(rec)
        return self.status(ext_id)

    def _bring_up_within(self, rec: _Record) -> None:
        """Load (and activate, if it asks for ``on_startup``) ``rec`` on a thread of its own,
        waiting at most its activation timeout."""
        activate = rec.manifest.activates_on_startup()
        thread = threading.Thread(
            target=self._bring_up, args=(rec, activate), name=f"ext-adopt:{rec.id}", daemon=True
        )
        thread.start()
        thread.join(self._timeout_of(rec))
        if thread.is_alive():
            step = "activating" if rec.state is State.ACTIVATING else "loading"
            self._move(
                rec, State.FAILED, f"{step} did not finish within {self._timeout_of(rec):g} s"
            )

    # --- calls ---------------------------------------------------------------------------------

    def call(
        self,
        step_type: str,
        inputs: Mapping[str, Any],
        *,
        extension: str | None = None,
        cancel: threading.Event | None = None,
        progress: Callable[[float | None, str], None] | None = None,
        timeout: float | None = None,
    ) -> StepOutcome:
        """Run one step and return its outputs.

        Args:
            step_type: the step type (``shell.run``).
            inputs: the step's ``with`` values.
            extension: which provider to use when several offer the step type (default: the
                first by id).
            cancel: set it to stop the call (processes it started are terminated).
            progress: receives ``(fraction, message)`` reports.
            timeout: seconds before the call is cancelled (default: the manifest's
                ``runtime.call_timeout_s``).

        Raises:
            UsageError: no enabled extension offers ``step_type``.
            StepInputError: bad inputs, or the extension returned undeclared outputs.
            ExtensionError: the extension failed to activate, raised, or timed out.
            Cancelled: ``cancel`` was set.
            PermissionDenied: the extension tried something its permissions do not allow.
        """
        ext_id, spec = self._provider(step_type, extension)
        where = f"step {step_type}"
        values = check_inputs(where, spec.inputs, inputs)
        external = next((p for p in self._step_providers if p.owns(ext_id)), None)
        if external is not None:
            return external.call(
                step_type, ext_id, values, cancel=cancel, progress=progress, timeout=timeout
            )
        rec = self._records[ext_id]
        self._ensure_active(rec)
        assert rec.context is not None and rec.guard is not None
        cancel = cancel or threading.Event()
        limit = timeout if timeout is not None else rec.manifest.runtime.call_timeout_s
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            cancel.set()

        ctx = LocalStepContext(rec.context, step_type=step_type, cancel=cancel, progress=progress)
        t0 = time.perf_counter()
        ok, error = False, ""
        timer = self._deadlines.call_later(limit, expire)
        with rec.idle:
            rec.inflight += 1
        try:
            try:
                raw = rec.handlers[step_type](ctx, values)
            except PermissionDenied:
                raise  # the guard's refusal, as it is
            except Cancelled:
                if not cancel.is_set():
                    raise  # an extension raising Cancelled on its own: a failure, below
                if timed_out.is_set():
                    raise ExtensionError(
                        f"{where} ({rec.id}) timed out after {limit:g} s"
                    ) from None
                raise
            except KeyboardInterrupt:
                raise
            if timed_out.is_set():
                raise ExtensionError(f"{where} ({rec.id}) timed out after {limit:g} s")
            try:
                outputs = check_outputs(where, spec.outputs, raw)
            except StepInputError as e:  # the extension's bug, not the user's input
                raise ExtensionError(f"{where} ({rec.id}) returned bad outputs: {e}") from None
            ok = True
            return StepOutcome(rec.id, step_type, outputs, (time.perf_counter() - t0) * 1000)
        except (PermissionDenied, ExtensionError) as e:
            error = str(e)
            raise
        except Cancelled as e:
            error = str(e)
            if cancel.is_set():
                raise
            raise ExtensionError(f"{where} ({rec.id}) failed: {_full_reason(e)}") from e
        except KeyboardInterrupt:
            error = "interrupted"
            raise
        except BaseException as e:  # SystemExit too: extension code must not end Symphony
            error = _full_reason(e)
            log.debug("step %s raised", step_type, exc_info=True)
            raise ExtensionError(f"{where} ({rec.id}) failed: {error}") from e
        finally:
            self._deadlines.cancel(timer)
            with rec.idle:
                rec.inflight -= 1
                rec.idle.notify_all()
            duration = (time.perf_counter() - t0) * 1000
            ctx.cleanup()
            self._account(rec, step_type, duration, ok, error)

    def _provider(self, step_type: str, extension: str | None) -> tuple[str, StepTypeSpec]:
        providers = self.step_types([step_type]).get(step_type, [])
        if extension is not None:
            providers = [p for p in providers if p[0] == extension]
        if not providers:
            import difflib

            known = sorted(self.step_types())
            close = difflib.get_close_matches(step_type, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            by = f" from extension {extension!r}" if extension else ""
            raise UsageError(f"no enabled extension offers step type {step_type!r}{by}{hint}")
        return providers[0]

    def _account(self, rec: _Record, step_type: str, duration: float, ok: bool, error: str) -> None:
        with self._lock:
            rec.metrics.calls += 1
            rec.metrics.errors += 0 if ok else 1
            rec.metrics.durations.append(duration)
        self.audit.call(
            CallRecord(
                ts=time.time(),
                workspace=str(self.workspace),
                extension=rec.id,
                step_type=step_type,
                duration_ms=duration,
                ok=ok,
                error=error[:500],
            )
        )


def _shutdown(instance: object) -> None:
    """End the host process of a hosted extension instance (nothing for in-process ones)."""
    shutdown = getattr(instance, "shutdown", None)
    if callable(shutdown):
        shutdown()


def isolation_of(found: Found, manifest: Manifest) -> str:
    """Where the extension runs: its manifest's choice, else in-process for built-ins and in
    its own process for everything else."""
    if manifest.runtime.isolation:
        return manifest.runtime.isolation
    return "in-process" if found.source == "builtin" else "process"


def _instantiate(found: Found, manifest: Manifest) -> Extension:
    info = manifest.extension
    return load_extension(info.entry, found.import_root, info.type)


def _reason(action: str, e: BaseException) -> str:
    where = f"{action}: " if action else ""
    message = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{where}{type(e).__name__}" + (f": {message}" if message else "")


def _full_reason(e: BaseException, limit: int = 4000) -> str:
    """``Type: message`` with every line of the message (capped), for a failed call."""
    message = str(e).strip()
    if len(message) > limit:
        message = message[:limit] + " […]"
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


def _is_active(rec: _Record) -> bool:
    return rec.state is State.ACTIVE


def _deactivate_quietly(rec: _Record) -> None:
    try:
        if rec.instance is not None:
            rec.instance.deactivate()
    except BaseException:
        log.debug("late deactivate of %s raised", rec.id, exc_info=True)


def _status(rec: _Record) -> ExtensionStatus:
    found = rec.found
    m = found.manifest
    if m is None:
        return ExtensionStatus(
            id=rec.id,
            name=rec.id,
            version="?",
            type="?",
            source=found.source,
            path=str(found.path),
            state=rec.state,
            enabled=False,
            reason=rec.reason,
        )
    permissions = m.permissions.grants()
    isolation = isolation_of(found, m)
    return ExtensionStatus(
        id=rec.id,
        name=m.extension.name,
        version=m.extension.version,
        type=m.extension.type,
        source=found.source,
        path=str(found.path),
        state=rec.state,
        enabled=rec.enabled,
        reason=rec.reason,
        description=m.extension.description,
        isolation=isolation,
        permissions={k: v for k, v in permissions.items() if v},
        step_types=tuple(s.type for s in m.contributes.steps),
        commands=tuple(c.id for c in m.contributes.commands),
        activation=tuple(m.activation),
        manifest_hash=found.digest or "",
    )
