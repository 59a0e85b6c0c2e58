"""StepDialog: choose a step type and fill in a step's id and inputs (the Harmony Board's
"add step" and "edit step").

To add, the dialog first lists the step types (filtered as you type: every word must appear in
the type, title or description); choosing one shows the step's id, prefilled with a free
suggestion, and a :class:`~symphony_tui.widgets.schema_form.SchemaForm` for its inputs. To edit,
it opens on the form with the type fixed and the values prefilled. It dismisses with a
:class:`StepDialogResult` or None; it only asks, the screen that pushed it edits the melody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from engine.extensions.messages import StepTypeInfo
from engine.melody.editing import suggest_step_id
from engine.melody.model import STEP_ID_RE
from symphony_tui.widgets.schema_form import SchemaForm

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from textual.app import ComposeResult

__all__ = ["StepDialog", "StepDialogResult", "filter_step_types"]


@dataclass(frozen=True)
class StepDialogResult:
    """What the user chose: the step's id, its type and its inputs (only the set ones)."""

    id: str
    uses: str
    with_: dict[str, Any] = field(default_factory=dict)


def filter_step_types(types: Sequence[StepTypeInfo], text: str) -> list[StepTypeInfo]:
    """The types whose type, title or description hold every word of ``text`` (any case);
    those whose type starts with the first word come first."""
    words = text.lower().split()
    found = [
        t for t in types if all(w in f"{t.type} {t.title} {t.description}".lower() for w in words)
    ]
    if words:
        found.sort(key=lambda t: not t.type.lower().startswith(words[0]))
    return found


class StepDialog(ModalScreen[StepDialogResult | None]):
    """Add a step (pick a type, then id and inputs) or edit one (``step`` given: type fixed).

    Args:
        types: the available step types (``ListStepTypes``).
        taken_ids: ids already used in the melody (the new id must differ).
        step: the step to edit; its id and type stay as they are.
    """

    CSS_PATH = "step_dialog.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("ctrl+s", "ok", "OK", show=False),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(
        self,
        types: Sequence[StepTypeInfo],
        *,
        taken_ids: Collection[str] = (),
        step: StepDialogResult | None = None,
    ) -> None:
        super().__init__(classes="step-dialog")
        self.types = list(types)
        self.taken = set(taken_ids)
        self.editing = step
        self.chosen: StepTypeInfo | None = None
        self.shown: list[StepTypeInfo] = list(types)
        if step is not None:
            self.taken.discard(step.id)
            self.chosen = next((t for t in types if t.type == step.uses), None) or _unknown(step)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = "Add a step" if self.editing is None else f"Edit step {self.editing.id}"
        with Vertical(id="step-box"):
            yield Static(title, id="step-title")
            with Vertical(id="step-pick"):
                yield Input(placeholder="Filter step types", id="step-filter", compact=True)
                yield OptionList(*self._options(), id="step-types", compact=True)
                yield Static("", id="step-about", markup=False)
                yield Static("↑↓ choose · enter select · esc cancel", classes="step-keys")
            with Vertical(id="step-edit"):
                yield Static("", id="step-type", markup=False)
                with Horizontal(id="step-id-row"):
                    yield Static("id", id="step-id-label")
                    yield Input(id="step-id", compact=True)
                yield Static("", id="step-id-error", markup=False)
                yield _FormScroll(id="step-form")
                yield Static("", id="step-errors", markup=False)
                with Horizontal(id="step-buttons"):
                    yield Static("tab next · ctrl+s OK · esc back", classes="step-keys")
                    yield Button("OK", id="step-ok", variant="primary", compact=True)
                    yield Button("Cancel", id="step-cancel", compact=True)

    async def on_mount(self) -> None:
        if self.chosen is not None and self.editing is not None:
            await self._configure(self.chosen, self.editing.with_)
        else:
            self._show_pick()

    def _options(self) -> list[Option]:
        width = max((len(t.type) for t in self.shown), default=0) + 2
        options = []
        for info in self.shown:
            prompt = Text(info.type.ljust(width), style="bold")
            prompt.append(info.title or info.description, style="dim")
            options.append(Option(prompt, id=info.type))
        return options

    def _show_pick(self) -> None:
        self.query_one("#step-pick").display = True
        self.query_one("#step-edit").display = False
        types = self.query_one("#step-types", OptionList)
        if self.shown:
            types.highlighted = 0
        self._describe_highlighted()
        self.query_one("#step-filter", Input).focus()

    async def _configure(self, info: StepTypeInfo, values: dict[str, Any]) -> None:
        """Show the id and the form for ``info``."""
        self.chosen = info
        self.query_one("#step-pick").display = False
        self.query_one("#step-edit").display = True
        header = f"{info.type} — {info.title}" if info.title else info.type
        if info.description:
            header = f"{header}\n{info.description}"
        self.query_one("#step-type", Static).update(header)
        id_input = self.query_one("#step-id", Input)
        if self.editing is not None:
            id_input.value = self.editing.id
            id_input.disabled = True
        else:
            id_input.value = suggest_step_id(info.type, self.taken)
        self.query_one("#step-id-error", Static).display = False
        self.query_one("#step-errors", Static).display = False
        scroll = self.query_one("#step-form", VerticalScroll)
        await scroll.remove_children()
        await scroll.mount(SchemaForm(info.input_schema, values))
        if self.editing is None:
            id_input.focus()
        else:
            form = self.query_one(SchemaForm)
            if form.fields:
                form.fields[0].input_widget.focus()
            else:
                self.query_one("#step-ok", Button).focus()

    # -- picking a type ----------------------------------------------------------------------

    @on(Input.Changed, "#step-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self.shown = filter_step_types(self.types, event.value)
        types = self.query_one("#step-types", OptionList)
        types.clear_options()
        types.add_options(self._options())
        if self.shown:
            types.highlighted = 0
        self._describe_highlighted()

    @on(OptionList.OptionHighlighted, "#step-types")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._describe_highlighted()

    def _describe_highlighted(self) -> None:
        index = self.query_one("#step-types", OptionList).highlighted
        about = self.query_one("#step-about", Static)
        if index is None or not self.shown:
            about.update("No step type matches." if not self.shown else "")
            return
        info = self.shown[index]
        about.update(info.description or info.title)

    def action_move(self, delta: int) -> None:
        """Move the highlight in the type list (while the filter has focus)."""
        if self.chosen is not None or not self.shown:
            return
        types = self.query_one("#step-types", OptionList)
        current = types.highlighted or 0
        types.highlighted = max(0, min(len(self.shown) - 1, current + delta))

    @on(Input.Submitted, "#step-filter")
    async def _submit_filter(self, event: Input.Submitted) -> None:
        event.stop()
        index = self.query_one("#step-types", OptionList).highlighted
        if index is not None and self.shown:
            await self._configure(self.shown[index], {})

    @on(OptionList.OptionSelected, "#step-types")
    async def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        await self._configure(self.shown[event.option_index], {})

    # -- the form ----------------------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id != "step-filter":  # enter there chooses the type
            self.focus_next()

    @on(Input.Changed, "#step-id")
    def _id_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show_id_error()

    def _show_id_error(self) -> None:
        error = self._id_error()
        label = self.query_one("#step-id-error", Static)
        label.update(error)
        label.display = bool(error)

    def _id_error(self) -> str:
        text = self.query_one("#step-id", Input).value
        if not text:
            return "a step needs an id"
        if not re.match(STEP_ID_RE, text):
            return "an id starts with a letter or '_' and holds letters, digits, '_' and '-'"
        if text in self.taken:
            return f"{text!r} is already used (free: {suggest_step_id(text, self.taken)!r})"
        return ""

    @on(Button.Pressed, "#step-ok")
    def _ok_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_ok()

    @on(Button.Pressed, "#step-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def errors(self) -> list[str]:
        """What stops OK: the id's problem and the form's."""
        if self.chosen is None:
            return ["choose a step type"]
        found = [f"id: {e}"] if (e := self._id_error()) else []
        return found + self.query_one(SchemaForm).errors()

    def action_ok(self) -> None:
        """Close with the step if the id and every value are valid; else show why."""
        if self.chosen is None:
            return
        problems = self.errors()
        if problems:
            summary = self.query_one("#step-errors", Static)
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            summary.update(f"Cannot save: {problems[0]}{more}")
            summary.display = True
            self._show_id_error()
            self.query_one(SchemaForm).show_errors()
            return
        form = self.query_one(SchemaForm)
        step_id = self.query_one("#step-id", Input).value
        self.dismiss(StepDialogResult(step_id, self.chosen.type, form.values()))

    def action_back(self) -> None:
        """Back to the type list when adding; otherwise close without a result."""
        if self.editing is None and self.chosen is not None:
            self.chosen = None
            self._show_pick()
            return
        self.dismiss(None)


class _FormScroll(VerticalScroll, can_focus=False):
    """Scrolls the form as focus moves through it; tab skips it and goes to the fields."""


def _unknown(step: StepDialogResult) -> StepTypeInfo:
    """A stand-in for a step type no enabled extension offers: its values, untyped."""
    return StepTypeInfo(
        type=step.uses,
        title="",
        description="No enabled extension offers this step type; values are not checked.",
        providers=(),
        input_schema={"type": "object", "properties": {k: {} for k in step.with_}},
    )
