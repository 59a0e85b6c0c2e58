"""Progressive feedback (SPEC §5) with Pilot: each stage appears at its time, and not before;
Cancel (button or escape) calls back; finishing takes everything down."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.widgets import Button, ProgressBar, Static

from symphony_tui.widgets.feedback import Progressive, ProgressScreen, Spinner, Stage, Timings
from tests.tui.helpers import wait_for


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("work area")
        yield Spinner(id="spin")


FAST = Timings(tick=0.01)


async def advance(pilot: object, clock: Clock, progressive: Progressive, to: float) -> None:
    clock.now = 100.0 + to
    progressive.tick()
    await pilot.pause(0.05)  # type: ignore[attr-defined]


def overlays(app: App[None]) -> list[ProgressScreen]:
    return [s for s in app.screen_stack if isinstance(s, ProgressScreen)]


async def test_each_stage_appears_at_its_time_and_cancel_calls_back() -> None:
    app = Host()
    cancels: list[str] = []
    clock = Clock()
    async with app.run_test(size=(80, 24)) as pilot:
        spinner = app.query_one(Spinner)
        progressive = Progressive(
            app.screen,
            "Installing acme.x",
            on_cancel=lambda: cancels.append("x"),
            spinner=spinner,
            timings=FAST,
            clock=clock,
        ).start()
        await advance(pilot, clock, progressive, 0.19)
        assert progressive.stage is Stage.IDLE
        assert not spinner.busy and not spinner.display and not overlays(app)

        progressive.update(None, "downloading")
        await advance(pilot, clock, progressive, 0.2)
        assert progressive.stage is Stage.SPINNER
        assert spinner.busy and spinner.display
        assert "Installing acme.x: downloading" in str(spinner.render())
        assert not overlays(app)
        await advance(pilot, clock, progressive, 0.49)
        assert progressive.stage is Stage.SPINNER and not overlays(app)

        await advance(pilot, clock, progressive, 0.5)
        assert progressive.stage is Stage.OVERLAY
        assert isinstance(app.screen, ProgressScreen)
        assert not spinner.busy
        screen = app.screen
        assert screen.query_one("#progress-buttons").has_class("-hidden")
        assert screen.query_one(ProgressBar).total is None  # indeterminate
        await pilot.press("escape")  # no cancel before 2 s
        assert cancels == [] and app.screen is screen

        progressive.update(0.25, "unpacking")
        await advance(pilot, clock, progressive, 1.99)
        assert progressive.stage is Stage.OVERLAY
        await advance(pilot, clock, progressive, 2.0)
        assert progressive.stage is Stage.PROGRESS
        buttons = screen.query_one("#progress-buttons")
        assert not buttons.has_class("-hidden") and buttons.display
        bar = screen.query_one(ProgressBar)
        assert (bar.total, bar.progress) == (100, 25)
        progressive.update(0.5, "")
        await pilot.pause()
        assert bar.progress == 50

        await pilot.press("escape")
        assert cancels == ["x"]
        assert screen.cancelled and screen.query_one("#progress-cancel", Button).disabled
        await pilot.press("escape")  # once is enough
        assert cancels == ["x"]

        progressive.finish()
        await pilot.pause()
        assert not overlays(app) and not spinner.busy
        assert progressive.stage is Stage.DONE and not progressive.running


async def test_cancel_button_calls_back() -> None:
    app = Host()
    cancels: list[int] = []
    clock = Clock()
    async with app.run_test(size=(80, 24)) as pilot:
        progressive = Progressive(
            app.screen, "Long job", on_cancel=lambda: cancels.append(1), clock=clock, timings=FAST
        ).start()
        await advance(pilot, clock, progressive, 3.0)
        assert progressive.stage is Stage.PROGRESS
        await pilot.click("#progress-cancel")
        await pilot.pause()
        assert cancels == [1]
        progressive.finish()
        await pilot.pause()
        assert not overlays(app)


async def test_without_a_cancel_callback_no_cancel_is_offered() -> None:
    app = Host()
    clock = Clock()
    async with app.run_test(size=(80, 24)) as pilot:
        progressive = Progressive(app.screen, "Job", clock=clock, timings=FAST).start()
        await advance(pilot, clock, progressive, 5.0)
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        assert screen.query_one("#progress-buttons").has_class("-hidden")
        await pilot.press("escape")
        assert app.screen is screen
        progressive.finish()
        await pilot.pause()
        assert not overlays(app)


async def test_a_quick_operation_shows_nothing() -> None:
    app = Host()
    clock = Clock()
    async with app.run_test(size=(80, 24)) as pilot:
        spinner = app.query_one(Spinner)
        progressive = Progressive(
            app.screen, "Quick", spinner=spinner, clock=clock, timings=FAST
        ).start()
        await advance(pilot, clock, progressive, 0.1)
        progressive.finish()
        await advance(pilot, clock, progressive, 5.0)
        assert progressive.stage is Stage.DONE
        assert not spinner.busy and not overlays(app)


async def test_real_timers_escalate_in_order_and_never_early() -> None:
    """The real clock and timers: every stage is reached, none before its threshold."""
    app = Host()
    timings = Timings(spinner=0.1, overlay=0.25, progress=0.5, tick=0.01)
    async with app.run_test(size=(80, 24)) as pilot:
        spinner = app.query_one(Spinner)
        started = time.monotonic()
        progressive = Progressive(
            app.screen, "Job", on_cancel=lambda: None, spinner=spinner, timings=timings
        ).start()
        seen: list[Stage] = []
        threshold = {
            Stage.IDLE: 0.0,
            Stage.SPINNER: timings.spinner,
            Stage.OVERLAY: timings.overlay,
            Stage.PROGRESS: timings.progress,
        }

        def check() -> bool:
            stage = progressive.stage
            assert time.monotonic() - started >= threshold[stage]
            if not seen or seen[-1] is not stage:
                seen.append(stage)
            return stage is Stage.PROGRESS

        await wait_for(pilot, check, timeout=10)
        assert seen[0] is Stage.IDLE and seen[-1] is Stage.PROGRESS
        assert seen == sorted(seen, key=list(threshold).index)
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        progressive.finish()
        await wait_for(pilot, lambda: not overlays(app))
