"""The Harmony Board: a melody's DAG with live step states, the selected step's details, and
the run and edit actions.

The board shows one melody file (``LoadMelody``) and, when there is one, its latest run
(``GetRun``); run events of that melody move its steps' states live. Selecting a step shows its
config, attempts, error, outputs and a streaming log (progress reports and the extension's
log lines). Runs start, cancel, resume and re-run from a step through the runs phase's
commands. Editing (add, edit, delete, connect, disconnect) goes through
:class:`~engine.melody.editing.MelodyDocument`, which keeps the file's comments and layout;
``ctrl+s`` saves it atomically.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import RichLog, Static

from engine.extensions.messages import ListStepTypes
from engine.melody.model import Melody
from engine.runs.messages import (
    CancelRun,
    GetRun,
    LoadMelody,
    ResumeRun,
    RunDetail,
    RunFinished,
    RunStarted,
    StartRun,
    StepInfo,
    StepLog,
    StepProgress,
    StepStateChanged,
)
from engine.types.errors import SymphonyError
from symphony_tui.board.canvas import BoardCanvas
from symphony_tui.board.layout import BoardGraph
from symphony_tui.views.runs import duration
from symphony_tui.views.states import glyph, state_style

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import ComposeResult

    from engine.melody.editing import MelodyDocument
    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["BoardView"]

#: Log lines kept per step.
LOG_LINES = 500
#: Below this width (the board's own) the details go under the board instead of beside it.
NARROW = 90
#: States in which a run can be resumed (its failed and unfinished steps run again).
RESUMABLE = frozenset({"failed", "cancelled", "crashed"})


class BoardView(Vertical):
    """The Harmony Board of one melody file."""

    DEFAULT_CSS = """
    BoardView { height: 1fr; }
    BoardView > #board-header { height: 1; padding: 0 1; background: $panel; }
    BoardView > #board-problems { height: auto; max-height: 5; padding: 0 1; color: $error; }
    BoardView > #board-body { height: 1fr; }
    BoardView #board-canvas { width: 1fr; height: 1fr; }
    BoardView #board-detail { width: 44; height: 1fr; border-left: vkey $panel-lighten-2; }
    BoardView.narrow #board-body { layout: vertical; }
    BoardView.narrow #board-detail { width: 1fr; height: 40%; min-height: 6; border-left: none;
        border-top: hkey $panel-lighten-2; layout: horizontal; }
    BoardView.narrow #detail-scroll { width: 1fr; }
    BoardView.narrow #detail-log { width: 1fr; }
    BoardView #detail-info { height: auto; padding: 0 1; }
    BoardView #detail-log { height: 1fr; min-height: 4; padding: 0 1; background: $surface; }
    """

    BINDINGS = [
        Binding("r", "run", "Run", id="board_run"),
        Binding("c", "cancel", "Cancel", id="board_cancel"),
        Binding(
            "t",
            "retry",
            "Retry",
            show=False,
            tooltip="Resume the run: failed steps run again",
            id="board_retry",
        ),
        Binding(
            "f",
            "run_from",
            "Run from",
            show=False,
            tooltip="Re-run from the selected step",
            id="board_run_from",
        ),
        Binding("a", "add_step", "Add", show=False, id="board_add"),
        Binding("e", "edit_step", "Edit", show=False, id="board_edit"),
        Binding("n", "connect", "Connect", show=False, id="board_connect"),
        Binding("x", "disconnect", "Disconnect", show=False, id="board_disconnect"),
        Binding("delete", "delete_step", "Delete", show=False, id="board_delete"),
        Binding("ctrl+s", "save_melody", "Save", id="board_save"),
    ]

    def __init__(self, target: str, *, run_id: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target = target
        self.path: Path | None = None
        self.melody: Melody | None = None
        self.problems: tuple[str, ...] = ()
        self.run_id = run_id
        self.run_state = ""
        self.run_took: float | None = None
        self.steps: dict[str, StepInfo] = {}
        self.states: dict[str, str] = {}
        self.logs: defaultdict[str, deque[Text]] = defaultdict(lambda: deque(maxlen=LOG_LINES))
        self.document: MelodyDocument | None = None
        self.dirty = False

    @property
    def symphony(self) -> SymphonyApp:
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    @property
    def canvas(self) -> BoardCanvas:
        return self.query_one(BoardCanvas)

    def compose(self) -> ComposeResult:
        yield Static(id="board-header")
        yield Static(id="board-problems")
        with Horizontal(id="board-body"):
            yield BoardCanvas(BoardGraph(()), id="board-canvas")
            with Vertical(id="board-detail"):
                with VerticalScroll(id="detail-scroll"):
                    yield Static(id="detail-info")
                yield RichLog(
                    id="detail-log", wrap=True, markup=False, max_lines=LOG_LINES, min_width=1
                )

    def on_mount(self) -> None:
        self.symphony.add_engine_listener(self)
        self.set_class(self.size.width < NARROW, "narrow")
        self.query_one("#board-problems").display = False
        self.load()

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")

    def focus(self, scroll_visible: bool = True) -> BoardView:
        self.canvas.focus(scroll_visible)
        return self

    # --- loading -----------------------------------------------------------------------------

    @property
    def melody_label(self) -> str:
        """The melody's name (or what the board was opened on)."""
        return self.melody.name if self.melody else (self.target or f"run {self.run_id}")

    def load(self) -> None:
        """(Re)read the melody file, then its run; without a file (a plan of ``ask``), the
        definition the run pinned."""
        if not self.target:
            self.load_run()
            return
        self.symphony.request(LoadMelody(target=self.target), self._loaded, self._load_failed)

    def load_run(self) -> None:
        """Show the states of run ``run_id`` (the melody itself, and unsaved edits, stay)."""
        if self.run_id or not self.target:
            self.symphony.request(
                GetRun(run_id=self.run_id or ""), self._show_run, self._load_failed
            )

    def _load_failed(self, error: SymphonyError) -> None:
        self.problems = (str(error),)
        self._show_problems()
        self._header()

    def _loaded(self, reply: Any) -> None:
        self.path = Path(reply.path)
        self.problems = tuple(reply.problems)
        self._show_problems()
        if not reply.definition:
            self._header()  # it does not parse: no run of it to show either
            return
        if not self.dirty:
            self._set_melody(Melody.model_validate_json(reply.definition))
        self.symphony.request(
            GetRun(run_id=self.run_id or "", melody=self.melody.name if self.melody else ""),
            self._show_run,
            lambda _e: self._header(),
        )

    def _set_melody(self, melody: Melody) -> None:
        self.melody = melody
        self.canvas.set_graph(BoardGraph.from_melody(melody))
        self.canvas.set_states(self.states)
        if self.canvas.selected is None and melody.steps:
            self.canvas.selected = melody.steps[0].id
        self._header()
        self._detail()

    def _show_problems(self) -> None:
        box = self.query_one("#board-problems", Static)
        box.display = bool(self.problems)
        box.update(Text("\n".join(f"✖ {p}" for p in self.problems[:5])))

    def _show_run(self, reply: RunDetail) -> None:
        self.run_id = reply.run.id
        self.run_state = reply.run.state
        self.run_took = reply.run.duration_ms
        self.steps = {s.step_id: s for s in reply.steps}
        self.states = {s.step_id: s.state for s in reply.steps}
        if self.melody is None and reply.definition and not self.target:
            self._set_melody(Melody.model_validate_json(reply.definition))
        self.canvas.set_states(self.states)
        self._header()
        self._detail()

    # --- engine events -----------------------------------------------------------------------

    def engine_events(self, events: Sequence[Event]) -> None:
        if self.melody is None:
            return
        touched: set[str] = set()
        finished = False
        for event in events:
            if isinstance(event, RunStarted) and event.melody == self.melody.name:
                self.run_id, self.run_state, self.run_took = event.run_id, "running", None
                if not event.resumed:
                    self.states = dict.fromkeys(event.steps, "pending")
                    self.steps = {}
                    self.logs.clear()
                    self.query_one("#detail-log", RichLog).clear()
                    self.canvas.set_states(self.states)
                touched.add("")
            elif getattr(event, "run_id", None) != self.run_id or self.run_id is None:
                continue
            elif isinstance(event, StepStateChanged):
                self.states[event.step_id] = event.state
                self.canvas.set_state(event.step_id, event.state)
                line = f"{event.state}"
                if event.attempt > 1:
                    line += f" (attempt {event.attempt})"
                if event.duration_ms is not None:
                    line += f" in {duration(event.duration_ms)}"
                if event.error:
                    line += f": {event.error.splitlines()[0]}"
                self._log(
                    event.step_id,
                    Text(f"● {line}", style=state_style(self.app, event.state)),
                )
                touched.add(event.step_id)
            elif isinstance(event, StepProgress):
                pct = f"{event.fraction:.0%} " if event.fraction is not None else ""
                self._log(event.step_id, Text(f"… {pct}{event.message}", style="dim"))
                touched.add(event.step_id)
            elif isinstance(event, StepLog):
                style = {"error": "bold", "warning": "italic"}.get(event.level, "")
                self._log(event.step_id, Text(event.message, style=style))
                touched.add(event.step_id)
            elif isinstance(event, RunFinished):
                self.run_state, self.run_took = event.state, event.duration_ms
                finished = True
        if finished and self.run_id is not None:
            self.symphony.request(GetRun(run_id=self.run_id), self._show_run)
        if touched:
            self._header()
            if self.canvas.selected in touched:
                self._detail(refresh_log=False)

    def _log(self, step_id: str, line: Text) -> None:
        self.logs[step_id].append(line)
        if step_id == self.canvas.selected:
            self.query_one("#detail-log", RichLog).write(line)

    # --- drawing -----------------------------------------------------------------------------

    def _header(self) -> None:
        text = Text()
        name = self.melody.name if self.melody else self.target
        text.append(f"◆ {name}", style="bold")
        if self.dirty:
            text.append(" ●", style=state_style(self.app, "cancelled"))
            text.append(" modified", style="dim")
        if self.run_id:
            text.append("   run ", style="dim")
            text.append(self.run_id, style="dim")
            text.append(
                f"  {glyph(self.run_state)} {self.run_state}",
                style=state_style(self.app, self.run_state),
            )
            if self.run_took is not None and self.run_state != "running":
                text.append(f"  {duration(self.run_took)}", style="dim")
            done = sum(1 for s in self.states.values() if s in ("completed", "cached"))
            cached = sum(1 for s in self.states.values() if s == "cached")
            text.append(f"  {done}/{len(self.states)} done", style="dim")
            if cached:
                text.append(f", {cached} cached", style="dim")
        elif self.melody is not None:
            text.append("   not run yet", style="dim")
        self.query_one("#board-header", Static).update(text)

    def on_board_canvas_step_selected(self, event: BoardCanvas.StepSelected) -> None:
        event.stop()
        self._detail()

    def _detail(self, *, refresh_log: bool = True) -> None:
        info = self.query_one("#detail-info", Static)
        sid = self.canvas.selected
        spec = next((s for s in self.melody.steps if s.id == sid), None) if self.melody else None
        if spec is None:
            info.update(Text("Select a step to see its details.", style="dim"))
            if refresh_log:
                self.query_one("#detail-log", RichLog).clear()
            return
        state = self.states.get(spec.id, "")
        run = self.steps.get(spec.id)
        text = Text()
        text.append(spec.id, style="bold")
        text.append(f"  {spec.uses}\n", style="dim")
        if state:
            text.append(f"{glyph(state)} {state}", style=state_style(self.app, state))
            if run is not None:
                if run.attempts:
                    text.append(f"  attempts {run.attempts}", style="dim")
                if run.duration_ms is not None:
                    text.append(f"  {duration(run.duration_ms)}", style="dim")
                if run.extension:
                    text.append(f"\nby {run.extension}", style="dim")
            text.append("\n")
        if spec.needs:
            text.append("needs ", style="dim")
            text.append(", ".join(spec.needs) + "\n")
        if spec.with_:
            text.append("with\n", style="dim")
            for key, value in spec.with_.items():
                text.append(f"  {key} = ", style="dim")
                text.append(_short(value) + "\n")
        if spec.when:
            text.append("when ", style="dim")
            text.append(spec.when + "\n")
        if run is not None and run.error:
            text.append("error\n", style=state_style(self.app, "failed"))
            text.append(run.error.strip()[:600] + "\n")
        if run is not None and run.outputs:
            text.append("outputs\n", style="dim")
            for key, value in run.outputs.items():
                text.append(f"  {key} = ", style="dim")
                text.append(_short(value) + "\n")
        if run is not None and run.artifact:
            text.append("artifact ", style="dim")
            text.append(run.artifact[:16] + "\n")
        info.update(text)
        if refresh_log:
            log = self.query_one("#detail-log", RichLog)
            log.clear()
            for line in self.logs.get(spec.id, ()):
                log.write(line)

    # --- running -----------------------------------------------------------------------------

    def _runnable(self) -> bool:
        if self.melody is None or (self.path is None and self.target):
            self.notify("the melody did not load", severity="error")
            return False
        if self.dirty:
            self.notify("Save the melody first (ctrl+s): runs use the file", severity="warning")
            return False
        if self.run_state == "running":
            self.notify("the melody is running; cancel it first (c)", severity="warning")
            return False
        return True

    def _started(self, reply: Any) -> None:
        self.run_id = reply.run_id
        self.notify(f"run {reply.run_id} of {reply.melody} started", title="Harmony Board")

    def _start(self, from_step: str | None = None) -> None:
        """Run the melody file, or (a run without a file: a plan of ``ask``) the definition
        the board shows."""
        assert self.melody is not None
        if self.path is not None:
            command = StartRun(target=str(self.path), from_step=from_step)
        else:
            command = StartRun(
                definition=self.melody.model_dump_json(by_alias=True),
                source=f"board: {self.melody.name}",
                from_step=from_step,
            )
        self.symphony.request(command, self._started)

    def action_run(self) -> None:
        if self._runnable():
            self._start()

    def action_run_from(self) -> None:
        step = self.canvas.selected
        if step is None or not self._runnable():
            return
        if not self.run_id:
            self.notify("no earlier run to reuse results from: press r to run", severity="warning")
            return
        self._start(step)

    def action_cancel(self) -> None:
        if self.run_id and self.run_state == "running":
            self.symphony.request(CancelRun(run_id=self.run_id), lambda r: self.notify(r.detail))
        else:
            self.notify("no run of this melody is going", severity="warning")

    def action_retry(self) -> None:
        if not self.run_id or self.run_state not in RESUMABLE:
            self.notify("nothing to retry: the latest run did not fail", severity="warning")
            return
        self.symphony.request(ResumeRun(run_id=self.run_id), self._started)

    # --- editing -----------------------------------------------------------------------------

    def _document(self) -> MelodyDocument | None:
        if self.document is None:
            from engine.melody.editing import MelodyDocument

            if self.path is None:
                self.notify(
                    "this run has no melody file to edit (a plan of ask)"
                    if not self.target
                    else "the melody did not load",
                    severity="error",
                )
                return None
            try:
                self.document = MelodyDocument.load(self.path)
            except SymphonyError as e:
                self.notify(str(e), title="Cannot edit", severity="error")
                return None
        return self.document

    def _edited(self) -> None:
        assert self.document is not None
        self.dirty = True
        self._set_melody(self.document.melody)

    def _apply(self, change: Any) -> bool:
        try:
            change()
        except SymphonyError as e:
            self.notify(str(e), title="Not changed", severity="error", timeout=10)
            return False
        self._edited()
        return True

    def action_add_step(self) -> None:
        if self._document() is None:
            return
        self.symphony.request(ListStepTypes(), self._pick_new_step)

    def _pick_new_step(self, reply: Any) -> None:
        from symphony_tui.screens.step_dialog import StepDialog

        doc = self.document
        assert doc is not None
        after = self.canvas.selected

        def done(result: Any) -> None:
            if result is None:
                return
            needs = [after] if after else []
            if self._apply(
                lambda: doc.add_step(result.id, result.uses, with_=result.with_, needs=needs)
            ):
                self.canvas.selected = result.id

        self.app.push_screen(StepDialog(list(reply.types), taken_ids=doc.melody.ids), done)

    def action_edit_step(self) -> None:
        doc = self._document()
        sid = self.canvas.selected
        if doc is None or sid is None:
            return
        self.symphony.request(ListStepTypes(), lambda reply: self._edit(reply, sid))

    def _edit(self, reply: Any, sid: str) -> None:
        from symphony_tui.screens.step_dialog import StepDialog, StepDialogResult

        doc = self.document
        assert doc is not None and self.melody is not None
        spec = next(s for s in self.melody.steps if s.id == sid)

        def done(result: Any) -> None:
            if result is not None:
                self._apply(lambda: doc.set_with(sid, result.with_))

        self.app.push_screen(
            StepDialog(
                list(reply.types),
                taken_ids=doc.melody.ids,
                step=StepDialogResult(id=spec.id, uses=spec.uses, with_=dict(spec.with_)),
            ),
            done,
        )

    def action_delete_step(self) -> None:
        doc = self._document()
        sid = self.canvas.selected
        if doc is None or sid is None:
            return
        self._apply(lambda: doc.remove_step(sid))

    def _pick_step(self, title: str, choices: list[str], then: Any) -> None:
        from symphony_tui.screens.editor_dialogs import PickDialog

        if not choices:
            self.notify(f"{title} no step to choose", severity="warning")
            return
        uses = {s.id: s.uses for s in self.melody.steps} if self.melody else {}

        def done(choice: str | None) -> None:
            if choice:
                then(choice)

        self.app.push_screen(PickDialog(title, [(c, c, uses.get(c, "")) for c in choices]), done)

    def action_connect(self) -> None:
        doc = self._document()
        sid = self.canvas.selected
        if doc is None or sid is None or self.melody is None:
            return
        spec = next(s for s in self.melody.steps if s.id == sid)
        others = [s.id for s in self.melody.steps if s.id != sid and s.id not in spec.needs]
        self._pick_step(
            f"{sid} needs…", others, lambda up: self._apply(lambda: doc.connect(up, sid))
        )

    def action_disconnect(self) -> None:
        doc = self._document()
        sid = self.canvas.selected
        if doc is None or sid is None or self.melody is None:
            return
        spec = next(s for s in self.melody.steps if s.id == sid)
        self._pick_step(
            f"{sid} no longer needs…",
            list(spec.needs),
            lambda up: self._apply(lambda: doc.disconnect(up, sid)),
        )

    def action_save_melody(self, accept_loss: bool = False, overwrite: bool = False) -> None:
        """Save the edits to the melody file: asks first when that loses something (YAML
        comments), and again when the file changed on disk since the board read it."""
        from engine.melody.editing import StaleFileError
        from symphony_tui.screens.editor_dialogs import ChoiceDialog

        doc = self.document
        if doc is None or not self.dirty:
            self.notify("nothing to save")
            return
        if doc.lossy and not accept_loss:
            self.app.push_screen(
                ChoiceDialog(
                    "Save the melody?", doc.loss_note, [("save", "Save"), ("cancel", "Cancel")]
                ),
                lambda c: self.action_save_melody(True, overwrite) if c == "save" else None,
            )
            return
        try:
            doc.save(force=overwrite, accept_loss=accept_loss)
        except StaleFileError as e:
            self.app.push_screen(
                ChoiceDialog(
                    "The melody changed on disk",
                    f"{e}\n\nOverwrite it with the board's version?",
                    [("cancel", "Keep the file"), ("overwrite", "Overwrite")],
                ),
                lambda c: self.action_save_melody(accept_loss, True) if c == "overwrite" else None,
            )
            return
        except SymphonyError as e:
            self.notify(str(e), title="Not saved", severity="error", timeout=15)
            return
        self._saved()

    def save_now(self) -> bool:
        """Save without asking (closing or quitting): False, with the reason shown, when the
        save needs a question answered (a YAML file, a file changed on disk) or fails."""
        doc = self.document
        if doc is None or not self.dirty:
            return True
        if doc.lossy:
            self.notify(
                f"{self.melody_label}: {doc.loss_note}; save it from the board (ctrl+s)",
                severity="warning",
            )
            return False
        try:
            doc.save()
        except SymphonyError as e:
            self.notify(str(e), title="Not saved", severity="error", timeout=15)
            return False
        self._saved()
        return True

    def _saved(self) -> None:
        self.dirty = False
        self._header()
        self.notify(f"saved {self.path}", title="Harmony Board")
        self.load()

    @on(BoardCanvas.StepActivated)
    def _activated(self, event: BoardCanvas.StepActivated) -> None:
        event.stop()
        self.query_one("#detail-scroll").scroll_home(animate=False)


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
