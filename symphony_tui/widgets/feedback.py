"""Progressive feedback for long operations (SPEC §5): nothing under 200 ms, an inline spinner
up to 500 ms, a progress overlay up to 2 s, then a progress display with Cancel.

A view starts a :class:`Progressive` when it sends work to the engine, feeds it the progress
it hears of (:meth:`Progressive.update`) and finishes it when the reply arrives. The stages
follow the time since :meth:`Progressive.start`, read from an injectable clock on a short tick,
so a quick operation shows nothing at all and tests can set the time. The view places the
:class:`Spinner` (a one-line widget) where it wants it; the overlay is a modal
:class:`ProgressScreen` pushed on the app. This module never talks to the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Label, ProgressBar, Static

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.app import ComposeResult
    from textual.timer import Timer
    from textual.widget import Widget

__all__ = ["ProgressScreen", "Progressive", "Spinner", "Stage", "Timings"]


class Stage(StrEnum):
    """What a :class:`Progressive` shows now."""

    IDLE = "idle"  # not started, or within the first 200 ms: nothing
    SPINNER = "spinner"  # the inline spinner
    OVERLAY = "overlay"  # the modal overlay, indeterminate
    PROGRESS = "progress"  # the overlay with a progress bar and Cancel
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Timings:
    """When each stage begins, in seconds after the start (SPEC §5's thresholds by default)."""

    spinner: float = 0.2
    overlay: float = 0.5
    progress: float = 2.0
    #: How often the stage is re-checked.
    tick: float = 0.05


_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Spinner(Static):
    """A one-line inline spinner with a label; hidden until a :class:`Progressive` shows it."""

    DEFAULT_CSS = """
    Spinner {
        display: none;
        width: auto;
        height: 1;
        color: $accent;
        padding: 0 1;
    }
    Spinner.-busy { display: block; }
    """

    label: reactive[str] = reactive("")
    frame: reactive[int] = reactive(0)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._timer: Timer | None = None

    def render(self) -> str:
        return f"{_FRAMES[self.frame % len(_FRAMES)]} {self.label}"

    @property
    def busy(self) -> bool:
        return self.has_class("-busy")

    def show(self, label: str) -> None:
        """Show and animate the spinner."""
        self.label = label
        self.add_class("-busy")
        if self._timer is None:
            self._timer = self.set_interval(0.08, self._next)

    def hide(self) -> None:
        self.remove_class("-busy")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _next(self) -> None:
        self.frame += 1


class ProgressScreen(ModalScreen[None]):
    """The progress overlay: a title, what happens now and a bar. It starts indeterminate
    without a Cancel button (:meth:`allow_cancel` adds one, and escape); cancelling calls
    ``on_cancel`` and waits for the operation to end, which dismisses the screen."""

    DEFAULT_CSS = """
    ProgressScreen { align: center middle; }
    ProgressScreen > Vertical {
        width: 60;
        max-width: 90%;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 1 2;
    }
    ProgressScreen #progress-title { text-style: bold; }
    ProgressScreen #progress-message { color: $text-muted; margin: 1 0; }
    ProgressScreen ProgressBar { width: 1fr; }
    ProgressScreen #progress-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    ProgressScreen #progress-buttons.-hidden { display: none; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="progress_cancel")]

    def __init__(self, title: str, message: str, on_cancel: Callable[[], None] | None) -> None:
        super().__init__()
        self._title = title
        self._message = message
        self._fraction: float | None = None
        self._on_cancel = on_cancel
        self.cancellable = False
        self.cancelled = False
        self._ended = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="progress-title")
            yield Label(self._message, id="progress-message")
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            with Horizontal(id="progress-buttons", classes="-hidden"):
                yield Button("Cancel", id="progress-cancel", variant="error")

    def on_mount(self) -> None:
        self._apply()

    def set_progress(self, fraction: float | None, message: str) -> None:
        """Show ``fraction`` (0 to 1; None: indeterminate) and ``message``."""
        self._fraction = None if fraction is None else max(0.0, min(1.0, fraction))
        if message:
            self._message = message
        if self.is_mounted:
            self._apply()

    def _apply(self) -> None:
        if not self.cancelled:
            self.query_one("#progress-message", Label).update(self._message)
        bar = self.query_one(ProgressBar)
        if self._fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(self._fraction * 100))
        if self.cancellable:
            buttons = self.query_one("#progress-buttons")
            if buttons.has_class("-hidden"):
                buttons.remove_class("-hidden")
                self.query_one("#progress-cancel", Button).focus()

    def allow_cancel(self) -> None:
        """Show the Cancel button (when there is something to call) and take escape."""
        if self._on_cancel is None or self.cancellable:
            return
        self.cancellable = True
        if self.is_mounted:
            self._apply()

    def end(self) -> None:
        """Dismiss it now if it is on top, else as soon as it is (a dialog opened over it)."""
        self._ended = True
        if self.app.screen is self:
            self.dismiss()

    def on_screen_resume(self) -> None:
        if self._ended:
            self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.cancellable and not self.cancelled
        return True

    def action_cancel(self) -> None:
        if not self.cancellable or self.cancelled or self._on_cancel is None:
            return
        self.cancelled = True
        self.query_one("#progress-cancel", Button).disabled = True
        self.query_one("#progress-message", Label).update("Cancelling…")
        self._on_cancel()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "progress-cancel":
            event.stop()
            self.action_cancel()


class Progressive:
    """Feedback for one long operation, escalating with time.

    Args:
        owner: the widget whose timer drives it (normally the view doing the work).
        title: what the operation is (``Installing acme.x``).
        on_cancel: asks the operation to stop; without it no Cancel is offered.
        spinner: the inline spinner the view placed (None: the spinner stage shows nothing).
        timings: the stage thresholds (tests shorten them).
        clock: monotonic seconds (tests set the time).
    """

    def __init__(
        self,
        owner: Widget,
        title: str,
        *,
        on_cancel: Callable[[], None] | None = None,
        spinner: Spinner | None = None,
        timings: Timings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner = owner
        self.title = title
        self.on_cancel = on_cancel
        self.spinner = spinner
        self.timings = timings or Timings()
        self.clock = clock
        self.stage = Stage.IDLE
        self.fraction: float | None = None
        self.message = ""
        self.screen: ProgressScreen | None = None
        self._started: float | None = None
        self._timer: Timer | None = None

    @property
    def running(self) -> bool:
        return self._started is not None and self.stage is not Stage.DONE

    def start(self) -> Progressive:
        """Start the clock (nothing shows yet)."""
        self._started = self.clock()
        self._timer = self.owner.set_interval(self.timings.tick, self.tick)
        return self

    def update(self, fraction: float | None, message: str = "") -> None:
        """The operation is ``fraction`` done (None: unknown) and doing ``message``."""
        self.fraction = fraction
        if message:
            self.message = message
        if self.screen is not None:
            self.screen.set_progress(fraction, message)
        if self.spinner is not None and self.stage is Stage.SPINNER:
            self.spinner.show(self._label())

    def tick(self) -> None:
        """Move to the stage the elapsed time calls for (the timer calls this)."""
        if self._started is None or self.stage is Stage.DONE:
            return
        elapsed = self.clock() - self._started
        t = self.timings
        if elapsed >= t.progress:
            self._show_progress()
        elif elapsed >= t.overlay:
            self._show_overlay()
        elif elapsed >= t.spinner and self.stage is Stage.IDLE:
            self.stage = Stage.SPINNER
            if self.spinner is not None:
                self.spinner.show(self._label())

    def _label(self) -> str:
        return f"{self.title}: {self.message}" if self.message else self.title

    def _show_overlay(self) -> None:
        if self.stage in (Stage.OVERLAY, Stage.PROGRESS):
            return
        self.stage = Stage.OVERLAY
        if self.spinner is not None:
            self.spinner.hide()
        self.screen = ProgressScreen(self.title, self.message or "Working…", self.on_cancel)
        self.owner.app.push_screen(self.screen)

    def _show_progress(self) -> None:
        if self.stage is Stage.PROGRESS:
            return
        self._show_overlay()
        self.stage = Stage.PROGRESS
        if self.screen is not None:
            self.screen.set_progress(self.fraction, self.message)
            self.screen.allow_cancel()

    def finish(self) -> None:
        """The operation ended: take everything down (safe to call twice)."""
        self.stage = Stage.DONE
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.spinner is not None:
            self.spinner.hide()
        screen, self.screen = self.screen, None
        if screen is not None and screen in self.owner.app.screen_stack:
            screen.end()
