"""The phase manager: start components in order, gate each on its health, roll back on failure.

A phase is a small object with ``start``, ``stop`` and ``health``. :class:`Bootstrapper` starts
phases in order and times each; if one raises or reports itself unhealthy, every phase already
started is stopped in reverse order and a :class:`BootReport` says which phase failed and why.
This module knows nothing about the concrete components (see :mod:`engine.runtime`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from engine.types.errors import BootstrapError, SymphonyError
from engine.types.messages import ComponentHealth, HealthStatus, PhaseTiming

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class Phase(Protocol):
    """One start-up phase owning one component."""

    name: str

    def start(self) -> None:
        """Bring the component up; raise to fail the phase."""

    def stop(self) -> None:
        """Release everything ``start`` acquired. Must be safe after a partial start."""

    def health(self) -> ComponentHealth:
        """Report the component's health; unhealthy fails the phase at start-up."""


@dataclass(frozen=True)
class PhaseResult:
    """How one phase went: ``started``, ``failed``, ``rolled_back`` or ``skipped``."""

    name: str
    status: str
    duration_ms: float
    health: ComponentHealth | None = None
    error: str | None = None

    def timing(self) -> PhaseTiming:
        """The wire form of this result."""
        return PhaseTiming(
            name=self.name, status=self.status, duration_ms=self.duration_ms, error=self.error
        )


@dataclass
class BootReport:
    """What happened during start-up, phase by phase."""

    results: list[PhaseResult] = field(default_factory=list)
    failed_phase: str | None = None
    reason: str | None = None
    rollback_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every phase started."""
        return self.failed_phase is None

    @property
    def duration_ms(self) -> float:
        """Total time spent in phases."""
        return sum(r.duration_ms for r in self.results)

    def render(self) -> str:
        """A human-readable report, one line per phase."""
        lines = []
        for r in self.results:
            extra = f" — {r.error}" if r.error else ""
            lines.append(f"  {r.name:<12} {r.status:<12} {r.duration_ms:8.1f} ms{extra}")
        if self.failed_phase:
            lines.append(f"start-up failed in phase '{self.failed_phase}': {self.reason}")
        lines.extend(f"  rollback problem: {e}" for e in self.rollback_errors)
        return "\n".join(lines)


class Bootstrapper:
    """Start phases in order; on failure stop the started ones in reverse order.

    Args:
        phases: the phases, in start order.
        on_phase: called after each phase finishes starting (for progress display).
    """

    def __init__(
        self,
        phases: Sequence[Phase],
        *,
        on_phase: Callable[[PhaseResult], None] | None = None,
    ) -> None:
        self.phases = list(phases)
        self._on_phase = on_phase
        self._started: list[Phase] = []
        self.report = BootReport()

    def start(self) -> BootReport:
        """Start every phase, or roll back and raise :class:`BootstrapError`."""
        for index, phase in enumerate(self.phases):
            t0 = time.perf_counter()
            error: str | None = None
            health: ComponentHealth | None = None
            try:
                phase.start()
                # Rollback must also stop a phase that started but then proved unhealthy.
                self._started.append(phase)
                health = phase.health()
                if health.status is HealthStatus.UNHEALTHY:
                    error = "; ".join(health.reasons) or "reported unhealthy"
            except SymphonyError as e:
                error = str(e)
            except Exception as e:  # a phase bug must still roll back the others
                error = f"{type(e).__name__}: {e}"
            elapsed = (time.perf_counter() - t0) * 1000
            result = PhaseResult(
                phase.name, "failed" if error else "started", elapsed, health, error
            )
            self.report.results.append(result)
            if self._on_phase:
                self._on_phase(result)
            if error is not None:
                self.report.failed_phase = phase.name
                self.report.reason = error
                self._rollback()
                for later in self.phases[index + 1 :]:
                    self.report.results.append(PhaseResult(later.name, "skipped", 0.0))
                raise BootstrapError(
                    f"start-up failed in phase '{phase.name}': {error}", report=self.report
                )
        return self.report

    def stop(self) -> list[str]:
        """Stop every started phase in reverse order; returns problems met while stopping."""
        problems: list[str] = []
        while self._started:
            phase = self._started.pop()
            try:
                phase.stop()
            except Exception as e:  # keep stopping the rest; report, never hide
                problems.append(f"{phase.name}: {type(e).__name__}: {e}")
        return problems

    def _rollback(self) -> None:
        names = [p.name for p in self._started]
        self.report.rollback_errors = self.stop()
        rolled = set(names)
        self.report.results = [
            PhaseResult(r.name, "rolled_back", r.duration_ms, r.health, r.error)
            if r.name in rolled and r.status == "started"
            else r
            for r in self.report.results
        ]

    def health(self) -> list[ComponentHealth]:
        """Current health of every started phase."""
        out = []
        for phase in self._started:
            try:
                out.append(phase.health())
            except Exception as e:  # a broken health check is itself unhealthy
                out.append(
                    ComponentHealth(
                        name=phase.name,
                        status=HealthStatus.UNHEALTHY,
                        reasons=(f"health check raised {type(e).__name__}: {e}",),
                    )
                )
        return out
