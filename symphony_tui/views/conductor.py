"""The conductor panel: ask in plain words, see the plan as a DAG, run it, follow it.

A request goes to the conductor's planner (``PlanRequest``: the rule-based planner, or a
model when one is configured — see AI instruments). The plan is drawn as a DAG with its
rationale before anything runs; ``Run`` starts it (``StartRun`` with the plan's definition) and
the panel streams the steps' states and log lines, then the decision log: every choice the
conductor made (which extension ran a step, fallbacks, reuse, recovery) with its rationale
and the alternatives it had. A step failing for good asks retry / skip / abort in a dialog
(shown by the app for any run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RichLog

from engine.changes.messages import (
    ApplyChanges,
    ChangesApplied,
    GetProposedChanges,
    ProposedChanges,
)
from engine.melody.model import Melody
from engine.runs.messages import (
    CancelRun,
    GetRun,
    PlanReply,
    PlanRequest,
    RunDetail,
    RunFinished,
    StartRun,
    StepLog,
    StepStateChanged,
)
from symphony_tui.board.canvas import BoardCanvas
from symphony_tui.board.layout import BoardGraph
from symphony_tui.views.runs import duration
from symphony_tui.views.states import glyph, state_style

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import ComposeResult

    from engine.types.errors import SymphonyError
    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["ConductorPanel"]

#: Longest wait for a plan, in seconds (a model may be asked twice).
PLAN_TIMEOUT = 600.0


class ConductorPanel(Vertical):
    """Prompt, plan, streaming output and decision log of ``ask`` requests."""

    DEFAULT_CSS = """
    ConductorPanel { height: 1fr; }
    ConductorPanel > #ask-row { height: 1; }
    ConductorPanel #ask-input { width: 1fr; height: 1; border: none; padding: 0 1; }
    ConductorPanel #ask-row Button { min-width: 8; height: 1; border: none; margin-left: 1; }
    ConductorPanel > #ask-body { height: 1fr; }
    ConductorPanel #ask-plan { width: 2fr; height: 1fr; }
    ConductorPanel #ask-log { width: 3fr; height: 1fr; padding: 0 1; background: $surface; }
    """

    BINDINGS = [
        Binding("ctrl+r", "run_plan", "Run plan", id="conductor_run"),
        # Priority: the prompt (an Input) binds ctrl+x to cut.
        Binding("ctrl+x", "cancel_run", "Cancel run", priority=True, id="conductor_cancel"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request = ""
        self.plan: PlanReply | None = None
        self.run_id: str | None = None
        self.running = False
        #: Events of runs that came while a run was starting, before its id was known.
        self._early: list[Event] = []

    @property
    def symphony(self) -> SymphonyApp:
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Horizontal(id="ask-row"):
            yield Input(
                placeholder="Ask: run the tests and lint src/ · review the diff · find TODO",
                id="ask-input",
            )
            yield Button("Run", id="ask-run", variant="primary", compact=True, disabled=True)
            yield Button("Cancel", id="ask-cancel", compact=True, disabled=True)
        with Horizontal(id="ask-body"):
            yield BoardCanvas(BoardGraph(()), id="ask-plan")
            yield RichLog(id="ask-log", wrap=True, markup=False, min_width=1)

    def on_mount(self) -> None:
        self.symphony.add_engine_listener(self)

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)

    def focus(self, scroll_visible: bool = True) -> ConductorPanel:
        self.query_one("#ask-input", Input).focus(scroll_visible)
        return self

    @property
    def log(self) -> RichLog:  # type: ignore[override]
        return self.query_one("#ask-log", RichLog)

    def _say(self, text: str | Text, style: str = "") -> None:
        self.log.write(text if isinstance(text, Text) else Text(text, style=style))

    def _buttons(self) -> None:
        self.query_one("#ask-run", Button).disabled = self.plan is None or self.running
        self.query_one("#ask-cancel", Button).disabled = not self.running

    # --- planning ----------------------------------------------------------------------------

    @on(Input.Submitted, "#ask-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        request = event.value.strip()
        if not request:
            return
        if self.running:
            self.notify("a plan is running; cancel it first (ctrl+x)", severity="warning")
            return
        self.request = request
        self.plan = None
        self._buttons()
        self.log.clear()
        self.query_one(BoardCanvas).set_graph(BoardGraph(()))
        self._say(Text.assemble(("ask ", "dim"), (request, "bold")))
        # A model may plan twice (one repair): give it its own time, not the usual 30 s.
        self.symphony.request(
            PlanRequest(request=request), self._planned, self._failed, timeout=PLAN_TIMEOUT
        )

    def _failed(self, error: SymphonyError) -> None:
        self._say(f"✖ {error}", "bold")
        self.running, self._early = False, []
        self._buttons()

    def _planned(self, reply: PlanReply) -> None:
        if reply.request != self.request:
            return
        if not reply.definition:
            self._say("Nothing to run for this request.", "bold")
            for reason in reply.unsupported:
                self._say(f"  · {reason}")
            self.query_one(BoardCanvas).set_graph(BoardGraph(()))
            return
        self.plan = reply
        melody = Melody.model_validate_json(reply.definition)
        canvas = self.query_one(BoardCanvas)
        canvas.set_graph(BoardGraph.from_melody(melody))
        canvas.set_states({})
        self._say(Text("Plan", style="bold"))
        for step in melody.steps:
            needs = f"  after {', '.join(step.needs)}" if step.needs else ""
            self._say(Text.assemble(f"  {step.id} ", (step.uses, "dim"), (needs, "dim")))
        self._say(Text(reply.rationale, style="italic"))
        for reason in reply.unsupported:
            self._say(f"  left out: {reason}", "dim")
        self._say(Text("ctrl+r or Run starts it.", style="dim"))
        self._buttons()

    # --- running -----------------------------------------------------------------------------

    @on(Button.Pressed, "#ask-run")
    def action_run_plan(self) -> None:
        if self.plan is None or self.running:
            return
        self.running = True
        self.run_id, self._early = None, []
        self._buttons()
        self.symphony.request(
            StartRun(definition=self.plan.definition, source=f"ask: {self.plan.request}"),
            self._started,
            self._failed,
        )

    def _started(self, reply: Any) -> None:
        self.run_id = reply.run_id
        self._say(Text(f"▶ run {reply.run_id}", style="bold"))
        # Events and replies travel apart: a quick run's events can come before this reply.
        early, self._early = self._early, []
        self.engine_events([e for e in early if getattr(e, "run_id", None) == reply.run_id])

    @on(Button.Pressed, "#ask-cancel")
    def action_cancel_run(self) -> None:
        if self.running and self.run_id:
            self.symphony.request(CancelRun(run_id=self.run_id), lambda r: self._say(r.detail))

    def engine_events(self, events: Sequence[Event]) -> None:
        if self.run_id is None:
            if self.running:  # started, its id not known yet: keep them for _started
                self._early.extend(e for e in events if getattr(e, "run_id", None))
            return
        canvas = self.query_one(BoardCanvas)
        for event in events:
            if getattr(event, "run_id", None) != self.run_id:
                continue
            if isinstance(event, StepStateChanged):
                canvas.set_state(event.step_id, event.state)
                if event.state in ("pending", "queued"):
                    continue
                line = Text(f"{glyph(event.state)} {event.step_id} {event.state}")
                line.stylize(state_style(self.app, event.state))
                if event.duration_ms is not None:
                    line.append(f"  {duration(event.duration_ms)}", style="dim")
                if event.error:
                    line.append(f"\n    {event.error.strip().splitlines()[0][:200]}")
                self._say(line)
            elif isinstance(event, StepLog):
                self._say(Text(f"    {event.step_id}: {event.message}", style="dim"))
            elif isinstance(event, RunFinished):
                self.running = False
                self._buttons()
                line = Text(f"■ run {event.state} in {duration(event.duration_ms)}", style="bold")
                line.stylize(state_style(self.app, event.state))
                self._say(line)
                self.symphony.request(GetRun(run_id=self.run_id), self._decisions)
                self.symphony.request(GetProposedChanges(run_id=self.run_id), self._review)

    def _review(self, reply: ProposedChanges) -> None:
        """The run proposed file changes: review them file by file, apply the accepted ones."""
        from symphony_tui.screens.review import ReviewScreen

        change_set = reply.change_set
        if change_set is None:
            return
        self._say(
            Text(f"✎ {len(change_set.changes)} file change(s) proposed: review them", style="bold")
        )

        def reviewed(accepted: tuple[str, ...] | None) -> None:
            if not accepted:
                self._say("changes not applied (nothing was written)", "dim")
                return
            self.symphony.request(
                ApplyChanges(change_set=change_set, accepted=accepted, run=self.run_id or ""),
                self._applied,
                lambda e: self._say(f"✖ not applied: {e}", "bold"),
            )

        self.app.push_screen(ReviewScreen(change_set), reviewed)

    def _applied(self, reply: ChangesApplied) -> None:
        self._say(
            Text.assemble(
                ("✔ applied ", "bold"),
                ", ".join(reply.files),
                (f"  checkpoint {reply.checkpoint.id}; palette: Undo changes", "dim"),
            )
        )
        self.notify(
            f"{len(reply.files)} file(s) changed; 'Undo changes' in the palette restores them",
            title="Changes applied",
        )

    def _decisions(self, reply: RunDetail) -> None:
        if not reply.decisions:
            return
        self._say(Text("Decisions", style="bold"))
        for d in reply.decisions:
            line = Text.assemble(
                (f"  {d.step_id} ", "bold"),
                (f"{d.kind} → ", "dim"),
                d.choice,
                (f"  {d.rationale}", "italic"),
            )
            if d.alternatives:
                line.append(f"  (alternatives: {', '.join(d.alternatives)})", style="dim")
            self._say(line)
