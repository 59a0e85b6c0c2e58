"""Dialogs of the editor and the explorer's file operations.

:class:`ChoiceDialog` asks one question with a few answers (save/discard/cancel, reload/keep,
delete/cancel); :class:`InputDialog` asks for a line number or a file name, validating as you
type; :class:`QuickOpen` picks a workspace file by fuzzy name. They only ask: the screen that
pushed them acts on the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine.files.fuzzy import FuzzyMatch, rank
from engine.files.walk import workspace_files

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from textual.app import ComposeResult

    from engine.files.ignore import IgnoreRules

#: Quick-open shows this many of the best matches.
QUICK_OPEN_RESULTS = 50


class ChoiceDialog(ModalScreen[str]):
    """A question with buttons; dismisses with the chosen button's id (``escape``: ``cancel``).

    Each choice is ``(id, label)``; the first is the default (focused) one.
    """

    CSS_PATH = "editor_dialogs.tcss"
    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, title: str, message: str, choices: Sequence[tuple[str, str]]) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.message = message
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                for index, (choice, label) in enumerate(self.choices):
                    yield Button(
                        label,
                        id=f"choice-{choice}",
                        variant="primary" if index == 0 else "default",
                        compact=True,
                    )

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose((event.button.id or "").removeprefix("choice-"))

    def action_choose(self, choice: str) -> None:
        """Close with ``choice``."""
        self.dismiss(choice)


class InputDialog(ModalScreen[str | None]):
    """Ask for one line of text; ``validate`` returns an error to show, or ``""`` if the value
    is fine. Dismisses with the text, or None on ``escape``."""

    CSS_PATH = "editor_dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        hint: str = "",
        validate: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint
        self.validate = validate or (lambda _: "")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="dialog-input")
            yield Label(self.hint, id="dialog-hint", classes="dialog-hint")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.focus()
        # Select the name without its extension, as file managers do for a rename.
        stem = self.value.rfind(".")
        field.selection = (0, stem) if stem > 0 else (0, len(self.value))  # type: ignore[assignment]

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        error = self.validate(event.value) if event.value else ""
        hint = self.query_one("#dialog-hint", Label)
        hint.update(error or self.hint)
        hint.set_class(bool(error), "-error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        error = self.validate(value) if value else "type a value, or escape to cancel"
        if error:
            hint = self.query_one("#dialog-hint", Label)
            hint.update(error)
            hint.add_class("-error")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        """Close without a value."""
        self.dismiss(None)


def highlighted(match: FuzzyMatch) -> Text:
    """The path with its matched characters in bold, the folder part dimmed."""
    text = Text(match.path)
    slash = match.path.rfind("/")
    if slash >= 0:
        text.stylize("dim", 0, slash + 1)
    for i in match.positions:
        text.stylize("bold underline", i, i + 1)
    return text


class QuickOpen(ModalScreen[str | None]):
    """Pick a workspace file by fuzzy name; dismisses with its workspace-relative path."""

    CSS_PATH = "editor_dialogs.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, rules: IgnoreRules, *, show_hidden: bool = True) -> None:
        super().__init__(classes="dialog")
        self.rules = rules
        self.show_hidden = show_hidden
        self.files: list[str] | None = None
        self.capped = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="quick-open"):
            yield Input(placeholder="Type part of a file name", id="quick-input")
            yield OptionList(id="quick-results")
            yield Label("listing files…", id="quick-status", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._list_files()

    @work(thread=True, exclusive=True, group="quick-open-list")
    def _list_files(self) -> None:
        files, capped = workspace_files(self.rules, show_hidden=self.show_hidden)
        self.app.call_from_thread(self._files_listed, files, capped)

    def _files_listed(self, files: list[str], capped: bool) -> None:
        self.files, self.capped = files, capped
        self._search(self.query_one(Input).value)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.files is not None:
            self._search(event.value)

    @work(thread=True, exclusive=True, group="quick-open-search")
    def _search(self, query: str) -> None:
        files = self.files or []
        matches = rank(query.strip(), files, QUICK_OPEN_RESULTS)
        self.app.call_from_thread(self._show, query, matches, len(files))

    def _show(self, query: str, matches: list[FuzzyMatch], total: int) -> None:
        if query != self.query_one(Input).value:
            return  # a newer search is on its way
        results = self.query_one(OptionList)
        results.clear_options()
        results.add_options(Option(highlighted(m), id=m.path) for m in matches)
        if matches:
            results.highlighted = 0
        more = "+" if self.capped else ""
        status = f"{len(matches)} of {total:,}{more} files" if query else f"{total:,}{more} files"
        self.query_one("#quick-status", Label).update(status)

    def action_move(self, delta: int) -> None:
        """Move the highlight in the results while typing."""
        results = self.query_one(OptionList)
        if results.option_count:
            current = results.highlighted or 0
            results.highlighted = max(0, min(results.option_count - 1, current + delta))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        results = self.query_one(OptionList)
        if results.highlighted is not None:
            self.dismiss(results.get_option_at_index(results.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without opening anything."""
        self.dismiss(None)


class PickDialog(ModalScreen[str | None]):
    """Pick one of a few named things (a melody, a step); dismisses with its id, or None on
    ``escape``. Each choice is ``(id, label, note)``; notes are shown dimmed."""

    CSS_PATH = "editor_dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, str, str]]) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(
                *(
                    Option(Text.assemble(label, ("  " + note if note else "", "dim")), id=key)
                    for key, label, note in self.choices
                ),
                id="pick-list",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
