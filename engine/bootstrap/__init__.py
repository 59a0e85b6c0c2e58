"""Phased start-up with health gates and rollback (SPEC §3.10)."""

from __future__ import annotations

from engine.bootstrap.phases import BootReport, Bootstrapper, Phase, PhaseResult

__all__ = ["BootReport", "Bootstrapper", "Phase", "PhaseResult"]
