"""Bootstrap: phases start in order, are timed and health-gated, and roll back on failure."""

from __future__ import annotations

import pytest

from engine.bootstrap import Bootstrapper
from engine.types.errors import BootstrapError, ConfigError
from engine.types.messages import ComponentHealth, HealthStatus


class Recorder:
    """A phase that records what happened to it in a shared log."""

    def __init__(
        self,
        name: str,
        log: list[str],
        *,
        fail: Exception | None = None,
        status: HealthStatus = HealthStatus.HEALTHY,
        stop_fails: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self.fail = fail
        self.status = status
        self.stop_fails = stop_fails

    def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail is not None:
            raise self.fail

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.stop_fails:
            raise RuntimeError("stuck")

    def health(self) -> ComponentHealth:
        reasons = ("broken",) if self.status is not HealthStatus.HEALTHY else ()
        return ComponentHealth(name=self.name, status=self.status, reasons=reasons)


def test_phases_start_in_order_and_are_timed() -> None:
    log: list[str] = []
    boot = Bootstrapper([Recorder(n, log) for n in ("types", "config", "bus")])
    report = boot.start()
    assert log == ["start types", "start config", "start bus"]
    assert report.ok
    assert [r.name for r in report.results] == ["types", "config", "bus"]
    assert all(r.status == "started" and r.duration_ms >= 0 for r in report.results)
    boot.stop()
    assert log[3:] == ["stop bus", "stop config", "stop types"]


def test_failure_rolls_back_started_phases_in_reverse_and_reports_why() -> None:
    log: list[str] = []
    phases = [
        Recorder("types", log),
        Recorder("config", log),
        Recorder(
            "bus", log, fail=ConfigError("bad value", source="/x/config.toml", key="ide.theme")
        ),
        Recorder("pit", log),
    ]
    boot = Bootstrapper(phases)
    with pytest.raises(BootstrapError) as info:
        boot.start()
    assert log == ["start types", "start config", "start bus", "stop config", "stop types"]
    report = info.value.report
    assert report is boot.report
    assert report.failed_phase == "bus"
    assert "/x/config.toml: ide.theme: bad value" in (report.reason or "")
    statuses = {r.name: r.status for r in report.results}
    assert statuses == {
        "types": "rolled_back",
        "config": "rolled_back",
        "bus": "failed",
        "pit": "skipped",
    }
    assert "start-up failed in phase 'bus'" in report.render()


def test_unhealthy_phase_fails_start_up_and_is_itself_stopped() -> None:
    log: list[str] = []
    boot = Bootstrapper(
        [Recorder("types", log), Recorder("bus", log, status=HealthStatus.UNHEALTHY)]
    )
    with pytest.raises(BootstrapError, match="broken"):
        boot.start()
    assert log == ["start types", "start bus", "stop bus", "stop types"]


def test_degraded_phase_does_not_fail_start_up() -> None:
    log: list[str] = []
    boot = Bootstrapper([Recorder("types", log, status=HealthStatus.DEGRADED)])
    assert boot.start().ok
    assert boot.health()[0].status is HealthStatus.DEGRADED


def test_unexpected_exception_is_reported_and_rollback_continues_past_a_stuck_stop() -> None:
    log: list[str] = []
    boot = Bootstrapper(
        [
            Recorder("types", log),
            Recorder("config", log, stop_fails=True),
            Recorder("bus", log, fail=ValueError("boom")),
        ]
    )
    with pytest.raises(BootstrapError, match="ValueError: boom"):
        boot.start()
    assert log[-2:] == ["stop config", "stop types"]
    assert boot.report.rollback_errors == ["config: RuntimeError: stuck"]


def test_progress_callback_sees_each_phase() -> None:
    seen: list[str] = []
    boot = Bootstrapper(
        [Recorder("a", []), Recorder("b", [])], on_phase=lambda r: seen.append(r.name)
    )
    boot.start()
    assert seen == ["a", "b"]
