"""The bridge's buffer under a flood: chatter may be dropped, state events never."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from engine.runs.messages import RunFinished, StepLog, StepStateChanged
from engine.runtime import Engine
from symphony_tui.bridge import MAX_BUFFERED_EVENTS, EngineBridge


def test_a_flood_of_log_lines_never_drops_a_state_event(tmp_path: Path) -> None:
    bridge = EngineBridge(Engine(tmp_path), App())
    bridge._push(StepStateChanged(run_id="r", step_id="a", state="running"))
    for i in range(MAX_BUFFERED_EVENTS + 50):
        bridge._push(StepLog(run_id="r", step_id="a", level="info", message=str(i), ts=0.0))
    bridge._push(RunFinished(run_id="r", state="completed", duration_ms=1.0))
    events = bridge.drain()
    assert bridge.dropped == 50
    assert isinstance(events[0], StepStateChanged) and isinstance(events[-1], RunFinished)
    logs = [e.message for e in events if isinstance(e, StepLog)]
    assert logs[0] == "50" and len(logs) == MAX_BUFFERED_EVENTS  # the newest kept, in order
    assert bridge.drain() == []
