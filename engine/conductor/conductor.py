"""The conductor's dispatch: every step call of a run goes through here.

For one step it picks the provider (the policy ranks the extensions offering the step type;
the melody may pin one), takes the arbitration grants the call needs (an exclusive lock on every
path the step writes, so two steps never write the same file at once), calls the extension
through the manager (which checks permissions and records metrics), and records the outcome for
the policy. Recovery: when the call fails for a reason another provider might not share, the
next provider is tried (``fallback``); an extension that fails ``unstable_after`` times in a row
is marked unstable for the session and only used when nothing else offers the capability.
Retries with backoff, skipping optional steps and halting are the scheduler's part of the
playbook. Every choice is handed to ``decide`` with its rationale and alternatives.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.conductor.policy import Policy, ThompsonPolicy
from engine.runs.store import Decision
from engine.types.errors import Cancelled, PermissionDenied, StepInputError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.extensions.manager import ExtensionManager
    from engine.pit.arbitration import Arbiter
    from engine.runs.store import Outcome, RunStore

__all__ = ["OUTCOME_FLUSH_S", "Conductor"]

OUTCOME_FLUSH_S = 0.5  # successes are written in batches at most this far apart

#: Failures that would be the same with any provider: never a reason to fall back.
NO_FALLBACK = (Cancelled, StepInputError, PermissionDenied, UsageError)


class Conductor:
    """Dispatch step calls for runs (implements the scheduler's ``Dispatcher``)."""

    def __init__(
        self,
        manager: ExtensionManager,
        store: RunStore,
        *,
        arbiter: Arbiter | None = None,
        policy: Policy | None = None,
        unstable_after: int = 3,
    ) -> None:
        self.manager = manager
        self.store = store
        self.arbiter = arbiter
        self.policy = policy or ThompsonPolicy()
        self.unstable_after = unstable_after
        self._lock = threading.Lock()
        self._streak: dict[str, int] = {}
        self._pending: dict[tuple[str, str], tuple[int, int, float]] = {}
        self._flushed = time.monotonic()

    def unstable(self) -> set[str]:
        """Extensions that failed ``unstable_after`` times in a row in this session."""
        with self._lock:
            return {e for e, n in self._streak.items() if n >= self.unstable_after}

    def dispatch(
        self,
        *,
        run_id: str,
        step_id: str,
        step_type: str,
        inputs: Mapping[str, Any],
        extension: str | None,
        writes: Sequence[str],
        cancel: threading.Event,
        timeout: float | None,
        progress: Callable[[float | None, str], None],
        decide: Callable[[Decision], None],
    ) -> tuple[str, dict[str, Any]]:
        providers = [e for e, _ in self.manager.step_types([step_type]).get(step_type, [])]
        if extension is not None:
            providers = [e for e in providers if e == extension]
        if not providers:
            raise UsageError(f"no enabled extension offers step type {step_type!r}")
        unstable = self.unstable()
        stable = [e for e in providers if e not in unstable] or providers
        ranking = self.policy.rank(step_type, stable, self._outcomes(step_type))
        shunned = [e for e in providers if e not in stable]
        note = f"; unstable this session: {', '.join(shunned)}" if shunned else ""
        decide(
            Decision(
                run_id,
                step_id,
                "provider",
                ranking.order[0],
                ranking.rationale + note,
                tuple(ranking.order[1:]),
            )
        )
        error: BaseException | None = None
        for i, ext_id in enumerate(ranking.order):
            if i > 0:
                decide(
                    Decision(
                        run_id,
                        step_id,
                        "fallback",
                        ext_id,
                        f"{ranking.order[i - 1]} failed ({str(error).splitlines()[0][:200]});"
                        f" {ext_id} offers {step_type} too",
                        tuple(ranking.order[i + 1 :]),
                    )
                )
            t0 = time.perf_counter()
            try:
                with self._grants(run_id, step_id, writes, cancel, decide):
                    outcome = self.manager.call(
                        step_type,
                        inputs,
                        extension=ext_id,
                        cancel=cancel,
                        progress=progress,
                        timeout=timeout,
                    )
            except NO_FALLBACK:
                raise
            except Exception as e:
                error = e
                self._record(step_type, ext_id, ok=False, ms=(time.perf_counter() - t0) * 1000)
                continue
            self._record(step_type, ext_id, ok=True, ms=outcome.duration_ms)
            return ext_id, outcome.outputs
        assert error is not None
        raise error

    def _outcomes(self, capability: str) -> dict[str, Outcome]:
        """Recorded outcomes plus those not written yet; only read when there is a choice."""
        from engine.runs.store import Outcome

        if len(self.manager.step_types([capability]).get(capability, [])) < 2:
            return {}
        with self._lock:
            pending = {e: v for (c, e), v in self._pending.items() if c == capability}
        merged = dict(self.store.outcomes(capability))
        for ext, (wins, losses, ms) in pending.items():
            old = merged.get(ext) or Outcome(capability, ext, 0, 0, 0.0)
            merged[ext] = Outcome(
                capability, ext, old.successes + wins, old.failures + losses, old.total_ms + ms
            )
        return merged

    def _grants(
        self,
        run_id: str,
        step_id: str,
        writes: Sequence[str],
        cancel: threading.Event,
        decide: Callable[[Decision], None],
    ) -> contextlib.AbstractContextManager[Any]:
        if self.arbiter is None or not writes:
            return contextlib.nullcontext()
        needs = {f"path:{self._lock_name(p)}": 1 for p in writes}
        t0 = time.monotonic()
        grant = self.arbiter.acquire(needs, owner=run_id, label=step_id, cancel=cancel)
        waited = time.monotonic() - t0
        if waited > 0.01:
            decide(
                Decision(
                    run_id,
                    step_id,
                    "arbitration",
                    ", ".join(needs),
                    f"waited {waited:.2f} s for exclusive write access to {', '.join(needs)}",
                )
            )
        return grant

    def _lock_name(self, path: str) -> str:
        """One name per file however it is spelled: resolved (symlinks followed) and made
        relative to the workspace when it is inside it."""
        workspace = self.manager.workspace
        resolved = (workspace / path).resolve()
        if resolved.is_relative_to(workspace):
            return resolved.relative_to(workspace).as_posix() or "."
        return resolved.as_posix()

    def _record(self, capability: str, ext_id: str, *, ok: bool, ms: float) -> None:
        with self._lock:
            self._streak[ext_id] = 0 if ok else self._streak.get(ext_id, 0) + 1
            key = (capability, ext_id)
            wins, losses, total = self._pending.get(key, (0, 0, 0.0))
            self._pending[key] = (wins + ok, losses + (not ok), total + ms)
            due = not ok or time.monotonic() - self._flushed > OUTCOME_FLUSH_S
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes recorded since the last flush (the policy reads them back)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        if pending:
            self.store.record_outcomes([(c, e, w, f, ms) for (c, e), (w, f, ms) in pending.items()])
