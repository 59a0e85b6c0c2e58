"""The Symphony application: composes the main screen, bindings and themes.

Engine work never runs here: the app owns an :class:`EngineBridge` and reacts to the events it
delivers. Screens own their own handlers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Any, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding

from engine.config import LoadedConfig, load_config
from engine.config.paths import resolve_data_dir, user_config_dir
from engine.files.recovery import RecoveryStore, recovery_dir
from engine.runs.messages import AnswerRecovery, RecoveryAsked, RunFinished, RunStarted
from engine.runtime import Engine
from engine.types.errors import ConfigError, RemoteError, SymphonyError, ThemeError
from engine.types.messages import (
    Command,
    ConfigChanged,
    ConfigRejected,
    EngineFailed,
    EngineStarted,
    Event,
    GetHealth,
    HealthChanged,
    HealthReport,
    HealthStatus,
    ReloadConfig,
    SetConfigValue,
)
from symphony_tui import clipboard
from symphony_tui.bridge import CommandReplied, EngineBridge, EngineEvents
from symphony_tui.commands import SymphonyCommands
from symphony_tui.keymap import check_keymap, key_rows
from symphony_tui.screens.health import HealthScreen
from symphony_tui.screens.help import HelpScreen
from symphony_tui.screens.main import MainScreen
from symphony_tui.theme_files import themes_health
from symphony_tui.themes import FALLBACK_THEME, textual_themes
from symphony_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path
    from types import FrameType

    from rich.console import RenderableType
    from textual.screen import Screen
    from textual.widget import Widget

log = logging.getLogger(__name__)


class EngineListener(Protocol):
    """Something on screen that follows engine events (a view of runs, artifacts…)."""

    def engine_events(self, events: Sequence[Event]) -> None:
        """Called on the UI thread with each batch of engine events, oldest first."""


#: How often the status bar re-checks engine health, in seconds.
HEALTH_INTERVAL = 10.0
#: After SIGHUP/SIGTERM, give a clean exit this long before ending the process outright (the
#: terminal may be gone with a dropped SSH connection).
SIGNAL_EXIT_GRACE: float | None = 3.0


class SymphonyApp(App[int]):
    """Symphony's terminal UI for one workspace."""

    TITLE = "Symphony"
    # A mode (not get_default_screen) so Textual loads the screen's .tcss file.
    DEFAULT_MODE = "workspace"
    COMMANDS = {SymphonyCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit Symphony", priority=True, id="quit"),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            show=False,
            priority=True,
            tooltip="Open the command palette",
            id="command_palette",
        ),
        Binding("f1", "help", "Help", tooltip="Show every key and its action id", id="help"),
        Binding(
            "ctrl+t", "change_theme", "Theme", tooltip="Change the colour theme", id="change_theme"
        ),
        Binding("f2", "show_health", "Health", tooltip="Show engine health", id="show_health"),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(
        self,
        workspace: Path,
        *,
        overrides: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        config: LoadedConfig | None = None,
        watch_config: bool = True,
        restore_layout: bool = False,
    ) -> None:
        super().__init__()
        self.workspace = workspace.resolve()
        self.loaded = config or load_config(self.workspace, overrides=overrides, env=env)
        self.engine = Engine(
            self.workspace, overrides=overrides, env=env, watch_config=watch_config
        )
        self.bridge = EngineBridge(self.engine, self)
        self._engine_listeners: list[EngineListener] = []
        self._live_runs: set[str] = set()
        self.last_health: HealthReport | None = None
        self._persisted_theme = ""
        self._health_modal_wanted = False
        self._restore_layout = restore_layout
        self._old_signal_handlers: dict[int, Any] = {}
        self._install_themes()
        #: The ``ide.keymap`` entries in effect, and why the others are not.
        self.keymap: dict[str, str] = {}
        self.keymap_problems: list[str] = []
        self._apply_keymap()
        self.add_mode("workspace", self._make_main_screen)

    # --- composition -------------------------------------------------------------------------

    def _install_themes(self) -> None:
        for name in list(self.available_themes):
            self.unregister_theme(name)
        themes, self.theme_errors = textual_themes(self.workspace, user_config_dir())
        for theme in themes:
            self.register_theme(theme)
        wanted = self.loaded.config.ide.theme
        if wanted not in self.available_themes:
            self.theme_errors.append(_missing_theme(wanted, sorted(self.available_themes)))
            wanted = FALLBACK_THEME
        self.theme = wanted
        self._persisted_theme = wanted

    def _apply_keymap(self) -> None:
        """Apply ``ide.keymap`` (the entries that check out) to every binding with an id."""
        self.keymap, self.keymap_problems = check_keymap(self.loaded.config.ide.keymap)
        self.set_keymap(self.keymap)
        screen = self.main_screen
        if screen is not None:
            screen.keymap_changed()

    def _report_keymap_problems(self) -> None:
        if self.keymap_problems:
            self.notify(
                "\n".join(self.keymap_problems),
                title="Key bindings skipped",
                severity="warning",
                timeout=15,
            )

    def _make_main_screen(self) -> MainScreen:
        explorer = self.loaded.config.ide.explorer
        return MainScreen(
            self.workspace,
            exclude=list(explorer.exclude),
            respect_gitignore=explorer.respect_gitignore,
            show_hidden=explorer.show_hidden,
            recovery=self._recovery_store(),
            restore_layout=self._restore_layout,
        )

    def _recovery_store(self) -> RecoveryStore:
        data_dir = resolve_data_dir(self.loaded.config.core.data_dir)
        return RecoveryStore(self.workspace, recovery_dir(data_dir, self.workspace))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Theme, Quit and Keys are offered by SymphonyCommands with Symphony's wording.
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit", "Keys"):
                yield command

    @property
    def main_screen(self) -> MainScreen | None:
        """The workspace screen, if it is installed."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def on_mount(self) -> None:
        for error in self.theme_errors:
            self.notify(str(error), title="Theme skipped", severity="warning", timeout=10)
        self._report_keymap_problems()
        self.watch(self, "theme", self._on_theme_changed, init=False)
        self.bridge.start()
        self.set_interval(HEALTH_INTERVAL, self.refresh_health)
        if not self.is_headless:  # tests drive the handler directly, not the test runner's
            self._install_signal_handlers()

    def on_unmount(self) -> None:
        self.bridge.stop()
        for signum, handler in self._old_signal_handlers.items():
            signal.signal(signum, handler)
        self._old_signal_handlers.clear()

    # --- crash safety ------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGHUP, signal.SIGTERM):
            self._old_signal_handlers[signum] = signal.signal(signum, self._on_fatal_signal)

    def _on_fatal_signal(self, signum: int, _frame: FrameType | None) -> None:
        """SIGHUP (terminal or SSH gone) or SIGTERM: keep unsaved work, then exit."""
        self.flush_recovery()
        if SIGNAL_EXIT_GRACE is not None:
            timer = threading.Timer(SIGNAL_EXIT_GRACE, os._exit, (128 + signum,))
            timer.daemon = True
            timer.start()
        loop = self._loop
        if loop is None:
            self.exit()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing already
            loop.call_soon_threadsafe(self.exit)

    def flush_recovery(self) -> None:
        """Write unsaved buffers and the layout to the recovery area now (synchronously)."""
        screen = self.main_screen
        if screen is None:
            return
        try:
            screen.flush_recovery()
        except Exception:  # never let recovery break the exit path
            log.exception("recovery flush failed")

    def exit(
        self,
        result: int | None = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        """Exit, keeping the layout for the next start and the terminals' transcripts."""
        screen = self.main_screen
        if screen is not None:
            try:
                screen.keeper.save_layout()
                screen.keep_transcripts()
            except Exception:
                log.exception("saving the layout or the terminal transcripts failed")
        super().exit(result, return_code, message)

    # --- engine events -----------------------------------------------------------------------

    def on_engine_events(self, _message: EngineEvents) -> None:
        events = self.bridge.drain()
        for event in events:
            self.handle_engine_event(event)
        for listener in list(self._engine_listeners):
            listener.engine_events(events)

    def add_engine_listener(self, listener: EngineListener) -> None:
        """Give ``listener`` every later batch of engine events (views call this on mount)."""
        self._engine_listeners.append(listener)

    def remove_engine_listener(self, listener: EngineListener) -> None:
        with contextlib.suppress(ValueError):
            self._engine_listeners.remove(listener)

    def handle_engine_event(self, event: Event) -> None:
        """Reflect one engine event in the UI."""
        screen = self.main_screen
        if isinstance(event, EngineStarted):
            self.refresh_health()
        elif isinstance(event, EngineFailed):
            if screen:
                screen.set_health("failed", event.failed_phase)
            self.notify(
                event.reason,
                title=f"Engine failed to start ({event.failed_phase})",
                severity="error",
                timeout=30,
            )
        elif isinstance(event, ConfigChanged):
            self._apply_config_change(event)
        elif isinstance(event, ConfigRejected):
            if screen:
                screen.set_config_problem(event.message.splitlines()[0])
            self.notify(
                event.message, title="Configuration change ignored", severity="error", timeout=15
            )
        elif isinstance(event, HealthChanged):
            self.refresh_health()
        elif isinstance(event, RecoveryAsked):
            self._ask_recovery(event)
        elif isinstance(event, RunStarted | RunFinished) and screen is not None:
            self._live_runs.discard(event.run_id)
            if isinstance(event, RunStarted):
                self._live_runs.add(event.run_id)
            screen.query_one(StatusBar).running = len(self._live_runs)

    def _ask_recovery(self, event: RecoveryAsked) -> None:
        """A step failed for good and its run waits: ask retry / skip / abort."""
        from symphony_tui.screens.editor_dialogs import ChoiceDialog

        first = event.error.strip().splitlines()[0] if event.error.strip() else "no message"

        def answered(choice: str | None) -> None:
            self.request(
                AnswerRecovery(
                    run_id=event.run_id,
                    step_id=event.step_id,
                    choice=choice if choice in ("retry", "skip") else "abort",
                ),
                lambda _reply: None,
            )

        self.push_screen(
            ChoiceDialog(
                f"Step {event.step_id} failed",
                f"{first[:300]}\n\nRun {event.run_id} waits: try the step again, go on"
                " without it, or stop the run?",
                [("retry", "Retry"), ("skip", "Skip"), ("abort", "Abort")],
            ),
            answered,
        )

    def _apply_config_change(self, event: ConfigChanged) -> None:
        self.loaded = self.engine_config_or(self.loaded)
        screen = self.main_screen
        if screen:
            screen.set_config_problem("")
            screen.show_model(self.loaded.config.aide)
        keys = set(event.changed_keys)
        news = list(event.changed_keys)
        if "ide.theme" in keys:
            name = str(event.values.get("ide.theme", self.loaded.config.ide.theme))
            if name == self.theme:
                news.remove("ide.theme")  # the user's own pick coming back from the file
            elif name in self.available_themes:
                self._persisted_theme = name
                self.theme = name
            else:
                self.notify(
                    str(_missing_theme(name, sorted(self.available_themes))), severity="warning"
                )
        if any(k.startswith("ide.keymap") for k in keys):
            self._apply_keymap()
            self._report_keymap_problems()
        if screen and any(k.startswith("ide.editor.") for k in keys):
            screen.apply_editor_config(self.loaded.config.ide.editor)
        if screen and any(k.startswith("ide.explorer.") for k in keys):
            explorer = self.loaded.config.ide.explorer
            screen.reload_explorer(
                exclude=list(explorer.exclude),
                respect_gitignore=explorer.respect_gitignore,
                show_hidden=explorer.show_hidden,
            )
        if news:
            self.notify(", ".join(news), title="Configuration reloaded", timeout=4)
        elif not keys:
            self.notify("the configuration is valid again", title="Configuration", timeout=4)

    def copy_to_clipboard(self, text: str) -> None:
        """Copy ``text`` for the user: OSC 52 through the terminal (tmux and screen aware, size
        guarded) and a native clipboard tool when one applies; a notification says which."""
        self._clipboard = text  # what TextArea and Input paste back
        self._export_clipboard(text)

    @work(thread=True, group="clipboard")
    def _export_clipboard(self, text: str) -> None:
        # A thread: the native tool may take a moment (it is given up to 3 s).
        driver = self._driver
        result = clipboard.copy(
            text,
            write=driver.write if driver is not None else None,
            native=not self.is_headless,  # tests never run xclip or pbcopy
        )
        self.call_from_thread(
            self.notify, result.message, severity="information" if result.ok else "warning"
        )

    def engine_config_or(self, fallback: LoadedConfig) -> LoadedConfig:
        """The engine's current configuration, or ``fallback`` before it has loaded."""
        service = self.engine.config_service
        return service.current if service is not None else fallback

    def on_command_replied(self, message: CommandReplied) -> None:
        if message.callback is not None:
            message.callback(message)
            return
        if isinstance(message.error, ConfigError) or (
            isinstance(message.error, RemoteError)
            and message.error.remote_code.startswith("config")
        ):
            return  # the engine also announced ConfigRejected, which shows it
        if message.error is not None:
            self.notify(
                str(message.error),
                title=f"{type(message.command).__name__} failed",
                severity="error",
            )
            return
        if isinstance(message.reply, HealthReport):
            self._show_health(message.reply)
        elif isinstance(message.command, ReloadConfig):
            detail = getattr(message.reply, "detail", "")
            self.notify(detail or "configuration reloaded", title="Reload configuration")

    # --- actions -----------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Send a command to the engine; the reply arrives as :class:`CommandReplied`."""
        self.bridge.send(command, timeout=self.loaded.config.core.request_timeout_s)

    def request(
        self,
        command: Command,
        on_reply: Callable[[Any], None],
        on_error: Callable[[SymphonyError], None] | None = None,
        *,
        timeout: float | None = None,
        owner: Widget | None = None,
    ) -> None:
        """Send a command; ``on_reply`` gets the reply on the UI thread. Without ``on_error``,
        an error is shown as a notification naming the command.

        A reply for a widget that has left the screen meanwhile (its tab was closed) is
        dropped: ``owner``, or else the widget ``on_reply`` (or ``on_error``) belongs to — its
        method, or a lambda using it.
        """
        if owner is None:
            owner = _widget_of(on_reply) or (_widget_of(on_error) if on_error else None)

        def replied(message: CommandReplied) -> None:
            if owner is not None and not owner.is_attached:
                return
            if message.error is None:
                on_reply(message.reply)
            elif on_error is not None:
                on_error(message.error)
            else:
                self.notify(
                    str(message.error),
                    title=f"{type(command).__name__} failed",
                    severity="error",
                )

        wait = timeout if timeout is not None else self.loaded.config.core.request_timeout_s
        self.bridge.send(command, timeout=wait, callback=replied)

    def refresh_health(self) -> None:
        """Ask the engine for its health (the status bar updates on reply)."""
        if self.engine.ready and not self.engine.failed:
            self.send(GetHealth())

    def _show_health(self, report: HealthReport) -> None:
        self.last_health = report
        screen = self.main_screen
        if screen:
            troubled = [c.name for c in report.components if c.status is not HealthStatus.HEALTHY]
            screen.set_health(report.status.value, ", ".join(troubled))
        if self._health_modal_wanted:
            self._health_modal_wanted = False
            themes = themes_health(self.workspace, user_config_dir())
            full = HealthReport(components=(*report.components, themes))
            self.push_screen(HealthScreen(full))

    def action_help(self) -> None:
        """Show every key, where it works and its id for ``ide.keymap``."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(self.keymap), self.keymap_problems))

    def action_show_health(self) -> None:
        """Open the engine health modal."""
        if self.engine.failed:
            self.notify(
                self.engine.report.render(), title="Engine failed to start", severity="error"
            )
            return
        self._health_modal_wanted = True
        self.refresh_health()

    async def action_quit(self) -> None:
        """Quit, asking first when editors have unsaved changes."""
        screen = self.main_screen
        if screen is not None and screen.dirty_editors():
            screen.confirm_quit()
            return
        self.exit()

    def action_reload_config(self) -> None:
        """Re-read every configuration layer now."""
        self.send(ReloadConfig())

    def _on_theme_changed(self, name: str) -> None:
        """Keep the status bar in step and save a theme the user picked to the user config."""
        screen = self.main_screen
        if screen:
            screen.set_theme_name(name)
        if name != self._persisted_theme and self.engine.ready and not self.engine.failed:
            self._persisted_theme = name
            self.send(SetConfigValue(key="ide.theme", value=name, layer="user"))
            origin = self.loaded.origins.get("ide.theme")
            if origin is not None and origin.layer in ("project", "env", "cli"):
                self.notify(
                    f"Saved to your user config, but {origin.source} sets ide.theme and wins"
                    " there: this theme lasts for this session only.",
                    title="Theme",
                    severity="warning",
                    timeout=10,
                )


def _widget_of(callback: Callable[..., Any]) -> Widget | None:
    """The widget a callback acts for: a bound method's object, or a widget a lambda closes
    over (``lambda r: self.notify(...)`` inside a view)."""
    from textual.widget import Widget

    bound = getattr(callback, "__self__", None)
    if isinstance(bound, Widget):
        return bound
    for cell in getattr(callback, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            if isinstance(cell.cell_contents, Widget):
                return cell.cell_contents
    return None


def _missing_theme(name: str, available: list[str]) -> ThemeError:
    return ThemeError(f"theme {name!r} is not installed (available: {', '.join(available)})")


def run(workspace: Path, overrides: Sequence[str] = (), config: LoadedConfig | None = None) -> int:
    """Run the app until the user quits; returns the exit code."""
    app = SymphonyApp(workspace, overrides=overrides, config=config, restore_layout=True)
    result = app.run()
    return result if isinstance(result, int) else app.return_code or 0
