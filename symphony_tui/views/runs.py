"""The runs view: recent melody runs with state, duration, step counts and cache hits.

Rows come from ``ListRuns`` and are fetched again (at most every :data:`REFRESH_EVERY`
seconds) while run events arrive, so a run going on elsewhere in Symphony shows up live.
``enter`` opens the selected run on the Harmony Board; runs this Symphony executes can be
cancelled, and runs that did not complete resumed. A line under the table tells the highlighted
run's full id, melody file, where it came from and why it failed — what a narrow terminal cuts
off the table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from engine.runs.messages import (
    CancelRun,
    ListRuns,
    ResumeRun,
    RunFinished,
    RunInfo,
    RunStarted,
    StepStateChanged,
)
from symphony_tui.views.artifact_format import format_age
from symphony_tui.views.states import glyph, state_style

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rich.style import Style
    from textual.app import ComposeResult

    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["RunsView", "duration", "run_detail", "step_counts"]

#: Shortest time between two fetches while run events keep coming, in seconds.
REFRESH_EVERY = 0.5
#: Runs listed.
RUN_LIMIT = 100


def duration(ms: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4m 05s``; an em dash when unknown."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def step_counts(counts: dict[str, int], app: Any) -> Text:
    """Step counts by state, each in its state's colour (``3✔ 1↺ 1✖``)."""
    text = Text()
    for state in ("completed", "cached", "running", "failed", "crashed", "cancelled", "skipped"):
        n = counts.get(state, 0)
        if n:
            if text:
                text.append(" ")
            text.append(f"{n}{glyph(state)}", style=state_style(app, state))
    pending = counts.get("pending", 0) + counts.get("queued", 0)
    if pending:
        text.append(f"{' ' if text else ''}{pending}{glyph('pending')}", style="dim")
    return text


def run_detail(run: RunInfo, workspace: Path, error_style: Style | str = "bold red") -> Text:
    """The highlighted run in words: its id and melody file (workspace-relative when inside
    it), what it was re-run or resumed from, and the first line of its error."""
    path = Path(run.path)
    if path.is_absolute() and path.is_relative_to(workspace):
        path = path.relative_to(workspace)
    text = Text()
    text.append(f"run {run.id}", style="bold")
    text.append(f" · {path}")
    if run.parent:
        origin = f"step {run.from_step} of " if run.from_step else ""
        text.append(f" · from {origin}run {run.parent}")
    if run.error:
        text.append("\n")
        text.append(run.error.splitlines()[0], style=error_style)
    return text


class RunsView(Vertical, can_focus=False):
    """Recent runs (newest first) of every melody of the workspace."""

    DEFAULT_CSS = """
    RunsView { height: 1fr; }
    RunsView > #runs-title { height: 1; padding: 0 1; background: $panel; color: $foreground; }
    RunsView > DataTable { height: 1fr; }
    RunsView > #runs-empty { padding: 1 2; color: $foreground-muted; }
    RunsView > #runs-detail {
        height: auto; max-height: 3; padding: 0 1; background: $panel; color: $foreground-muted;
    }
    """

    BINDINGS = [
        Binding("enter", "open_run", "Open on board", id="runs_open"),
        Binding("c", "cancel_run", "Cancel", id="runs_cancel"),
        Binding("r", "resume_run", "Resume", id="runs_resume"),
        Binding("f5", "refresh_runs", "Refresh", id="runs_refresh"),
    ]

    class OpenRun(Message):
        """Open ``run`` on the Harmony Board."""

        def __init__(self, run: RunInfo) -> None:
            super().__init__()
            self.run = run

    def __init__(self, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.runs: list[RunInfo] = []
        self._last_fetch = 0.0
        self._fetch_pending = False

    @property
    def symphony(self) -> SymphonyApp:
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static("RUNS", id="runs-title")
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_column("State", key="state")
        table.add_column("Melody", key="melody")
        table.add_column("Started", key="started")
        table.add_column("Took", key="took")
        table.add_column("Steps", key="steps")
        table.add_column("Run", key="id")
        yield table
        yield Static(
            "No runs yet. Open a melody on the board and press r to run it.", id="runs-empty"
        )
        yield Static("", id="runs-detail")

    def on_mount(self) -> None:
        self.symphony.add_engine_listener(self)
        self.fetch()

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)

    def focus(self, scroll_visible: bool = True) -> RunsView:
        self.query_one(DataTable).focus(scroll_visible)
        return self

    # --- data --------------------------------------------------------------------------------

    def fetch(self) -> None:
        """Ask the engine for the runs again."""
        self._last_fetch = time.monotonic()
        self._fetch_pending = False
        self.symphony.request(ListRuns(limit=RUN_LIMIT), self._show)

    def engine_events(self, events: Sequence[Event]) -> None:
        if self._fetch_pending or not any(
            isinstance(e, RunStarted | RunFinished | StepStateChanged) for e in events
        ):
            return
        wait = REFRESH_EVERY - (time.monotonic() - self._last_fetch)
        if wait <= 0:
            self.fetch()
        else:
            self._fetch_pending = True
            self.set_timer(wait, self.fetch)

    def _show(self, reply: Any) -> None:
        self.runs = list(reply.runs)
        table = self.query_one(DataTable)
        selected = self.selected_run
        table.clear()
        now = self.clock()
        for run in self.runs:
            state = Text(f"{glyph(run.state)} {run.state}", style=state_style(self.app, run.state))
            if run.live:
                state.append(" ●", style=state_style(self.app, "running"))
            table.add_row(
                state,
                Text(run.melody, style="bold"),
                format_age(now - run.created),
                duration(run.duration_ms),
                step_counts(run.counts, self.app),
                Text(run.id, style="dim"),
                key=run.id,
            )
        self.query_one("#runs-empty").display = not self.runs
        if selected is not None and any(r.id == selected.id for r in self.runs):
            table.move_cursor(row=table.get_row_index(selected.id))
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#runs-detail", Static)
        run = self.selected_run
        detail.display = run is not None
        if run is not None:
            failed = state_style(self.app, "failed")
            detail.update(run_detail(run, self.symphony.workspace, failed))

    @property
    def selected_run(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if not self.runs or table.row_count == 0:
            return None
        row = table.cursor_row
        return self.runs[row] if 0 <= row < len(self.runs) else None

    # --- actions -----------------------------------------------------------------------------

    def action_open_run(self) -> None:
        run = self.selected_run
        if run is not None:
            self.post_message(self.OpenRun(run))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_cancel_run(self) -> None:
        run = self.selected_run
        if run is None:
            return
        if not run.live:
            self.notify(f"run {run.id} is not running here", severity="warning")
            return
        self.symphony.request(CancelRun(run_id=run.id), lambda reply: self.notify(reply.detail))

    def action_resume_run(self) -> None:
        run = self.selected_run
        if run is None:
            return
        if run.state == "completed" or run.live:
            self.notify(f"run {run.id} is {run.state}: nothing to resume", severity="warning")
            return
        self.symphony.request(
            ResumeRun(run_id=run.id), lambda reply: self.notify(f"resumed run {reply.run_id}")
        )

    def action_refresh_runs(self) -> None:
        self.fetch()
