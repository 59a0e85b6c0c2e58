"""The extensions view (SPEC §5 "Extensions manager"): installed extensions with their state,
permissions and metrics, enable/disable, and the marketplace with a permission review before
anything is installed.

Everything goes through engine commands (``ListExtensions``, ``GetExtensionDetail``,
``SetExtensionEnabled``, ``SearchMarketplace``, ``ReviewInstall``, ``InstallExtension``,
``CancelInstall``) sent with ``app.request``; ``ExtensionStateChanged`` and ``InstallProgress``
events arrive through the app's engine listeners. Long operations show progressive feedback
(:mod:`symphony_tui.widgets.feedback`). The view never touches the engine or the installer.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static, TabbedContent, TabPane

from engine.extensions.lifecycle import ExtensionStatus, State
from engine.extensions.messages import (
    CancelInstall,
    ExtensionDetail,
    ExtensionList,
    ExtensionStateChanged,
    GetExtensionDetail,
    InstallDone,
    InstallExtension,
    InstallProgress,
    InstallReview,
    ListExtensions,
    MarketplaceEntry,
    MarketplaceListing,
    ReviewInstall,
    SearchMarketplace,
    SetExtensionEnabled,
)
from symphony_tui.widgets.feedback import Progressive, Spinner, Timings

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from textual.app import ComposeResult
    from textual.theme import Theme

    from engine.extensions.messages import ExtensionMetrics
    from engine.types.errors import SymphonyError
    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["ExtensionsView", "InstallReviewScreen", "metrics_line", "shorten", "state_text"]

#: From this width on (in cells) the tables show every column; narrower, the essential ones.
WIDE_COLUMNS = 72
#: How long an install may take before the request gives up, in seconds.
INSTALL_TIMEOUT_S = 600.0

#: The theme variable each lifecycle state is drawn in (others: the plain foreground).
_STATE_COLOURS = {
    State.ACTIVE: "success",
    State.LOADED: "primary",
    State.ACTIVATING: "warning",
    State.DEACTIVATING: "warning",
    State.FAILED: "error",
}
_operations = itertools.count(1)


def _colour(theme: Theme, name: str) -> str:
    """The theme's colour ``name`` (``success``, ``error``…) as a Rich style ("" if unset)."""
    value = getattr(theme, name, None)
    return value if isinstance(value, str) else ""


def state_text(status: ExtensionStatus, theme: Theme) -> Text:
    """The state cell: the lifecycle state in its theme colour, dim when disabled."""
    if not status.enabled and status.state is not State.FAILED:
        return Text(f"{status.state.value} (off)", style="dim")
    colour = _colour(theme, _STATE_COLOURS.get(status.state, "foreground"))
    return Text(status.state.value, style=f"bold {colour}".strip())


def shorten(text: str, workspace: Path) -> str:
    """``text`` with the workspace path made relative to it (``market/index.json``)."""
    return text.replace(f"{workspace}/", "")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def metrics_line(m: ExtensionMetrics) -> str:
    """``3 calls, 1 error · p50 2.0 ms · p95 … · p99 …`` (this session)."""
    calls = f"{m.calls} call{'s' if m.calls != 1 else ''}, {m.errors} error{'s' * (m.errors != 1)}"
    return f"{calls} · p50 {_ms(m.p50_ms)} · p95 {_ms(m.p95_ms)} · p99 {_ms(m.p99_ms)}"


class InstallReviewScreen(ModalScreen[bool]):
    """The permission review of an install: what each extension may do (or what an update
    adds), Install or Cancel. Dismisses with True only for Install; escape cancels."""

    DEFAULT_CSS = """
    InstallReviewScreen { align: center middle; }
    InstallReviewScreen > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    InstallReviewScreen #review-title { text-style: bold; margin-bottom: 1; }
    InstallReviewScreen #review-body { height: auto; max-height: 20; }
    InstallReviewScreen #review-body Static { width: 1fr; }
    InstallReviewScreen .review-heading { text-style: bold; color: $accent; }
    InstallReviewScreen .review-line { color: $foreground; }
    InstallReviewScreen .review-note { color: $text-muted; }
    InstallReviewScreen #review-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    InstallReviewScreen Button { margin-left: 2; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="review_cancel")]

    def __init__(self, review: InstallReview, workspace: Path | None = None) -> None:
        super().__init__()
        self.review = review
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        review = self.review
        widen = any(e.action == "update" for e in review.extensions)
        title = "Install with these permissions?"
        if widen:
            title = "Update: these permissions are added"
        with Vertical():
            yield Label(title, id="review-title")
            with VerticalScroll(id="review-body"):
                for ext in review.extensions:
                    heading = ext.heading
                    if self.workspace is not None:
                        heading = shorten(heading, self.workspace)
                    yield Static(heading, classes="review-heading")
                    if ext.sha256:
                        yield Static(f"  sha256:        {ext.sha256}", classes="review-line")
                    for dep, spec in ext.requires.items():
                        yield Static(f"  requires:      {dep} {spec}", classes="review-line")
                    for line in ext.lines:
                        yield Static(line, classes="review-line")
                for note in review.notes:
                    yield Static(note, classes="review-note")
                if not review.extensions:
                    yield Static("Nothing to install.", classes="review-note")
            with Horizontal(id="review-buttons"):
                yield Button(
                    "Install",
                    id="review-install",
                    variant="warning",
                    disabled=not review.extensions,
                )
                yield Button("Cancel", id="review-cancel")

    def on_mount(self) -> None:
        self.query_one("#review-cancel", Button).focus()  # the safe choice has the focus

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "review-install")


class ExtensionsView(Vertical, can_focus=False):
    """Installed extensions and the marketplace.

    Args:
        timings: the progressive feedback's thresholds (tests shorten them).
    """

    DEFAULT_CSS = """
    ExtensionsView { height: 1fr; }
    ExtensionsView TabbedContent { height: 1fr; }
    ExtensionsView TabPane { padding: 0; height: 1fr; }
    ExtensionsView DataTable { height: 1fr; min-height: 4; }
    ExtensionsView .ext-detail {
        height: auto; max-height: 45%; padding: 0 1;
        border-top: solid $primary; background: $surface;
    }
    ExtensionsView .ext-buttons { height: auto; padding: 0 1; }
    ExtensionsView .ext-buttons Button { margin-right: 2; }
    ExtensionsView #ext-status-line { height: 1; padding: 0 1; background: $panel; }
    ExtensionsView #ext-message { width: 1fr; color: $text-muted; }
    ExtensionsView #ext-search { margin: 0 1; }
    """

    BINDINGS = [
        Binding("e", "toggle_enabled", "Enable/Disable", id="ext_toggle_enabled"),
        Binding("m", "switch_tab", "Installed/Marketplace", id="ext_switch_tab"),
        Binding("i", "install", "Install…", id="ext_install"),
        Binding("slash", "search", "Search", id="ext_search"),
        Binding("f5", "refresh", "Refresh", id="ext_refresh"),
    ]

    def __init__(self, *, timings: Timings | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timings = timings
        self.statuses: dict[str, ExtensionStatus] = {}
        self.detail: ExtensionDetail | None = None
        self.entries: dict[str, MarketplaceEntry] = {}
        self.progressive: Progressive | None = None
        self.operation = ""
        self._list_pending = False
        #: All columns (the view is at least WIDE_COLUMNS cells wide), or the essential ones.
        self.wide = False

    @property
    def symphony(self) -> SymphonyApp:
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    def compose(self) -> ComposeResult:
        with TabbedContent(id="ext-tabs", initial="ext-installed"):
            with TabPane("Installed", id="ext-installed"):
                yield DataTable(id="ext-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="ext-detail", classes="ext-detail"):
                    yield Static("", id="ext-detail-text")
                with Horizontal(classes="ext-buttons"):
                    yield Button("Disable", id="ext-toggle", disabled=True, compact=True)
                    yield Button("Refresh", id="ext-refresh", compact=True)
            with TabPane("Marketplace", id="ext-market"):
                yield Input(placeholder="Search the marketplace (enter)", id="ext-search")
                yield DataTable(id="market-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="market-detail", classes="ext-detail"):
                    yield Static("", id="market-detail-text")
                with Horizontal(classes="ext-buttons"):
                    yield Button("Install…", id="ext-install-btn", disabled=True, compact=True)
        with Horizontal(id="ext-status-line"):
            yield Spinner(id="ext-spinner")
            yield Label("", id="ext-message")

    def on_mount(self) -> None:
        self.symphony.add_engine_listener(self)
        self.refresh_list()

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE_COLUMNS
        if wide != self.wide:
            self.wide = wide
            self._fill_installed()
            self._fill_market()

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)
        if self.progressive is not None:
            self.progressive.finish()

    def focus(self, scroll_visible: bool = True) -> ExtensionsView:
        self.query_one("#ext-table", DataTable).focus(scroll_visible)
        return self

    # --- installed ---------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.query_one("#ext-message", Label).update(text)

    def refresh_list(self) -> None:
        """Fetch every extension's status (one request in flight at a time)."""
        if self._list_pending:
            return
        self._list_pending = True

        def failed(error: SymphonyError) -> None:
            self._list_pending = False
            self._say(f"cannot list extensions: {error}")

        self.symphony.request(ListExtensions(), self._listed, failed)

    def _listed(self, reply: ExtensionList) -> None:
        self._list_pending = False
        self.statuses = {s.id: s for s in reply.extensions}
        self._fill_installed()
        self._show_selected()

    def _fill_installed(self) -> None:
        table = self.query_one("#ext-table", DataTable)
        selected = self.selected_id()
        theme = self.app.current_theme
        table.clear(columns=True)
        if self.wide:
            table.add_columns("ID", "STATE", "TYPE", "VERSION", "RUNS", "SOURCE")
        else:
            table.add_columns("ID", "STATE", "VERSION")
        for s in self.statuses.values():
            state = state_text(s, theme)
            if self.wide:
                runs = "in-process" if s.isolation == "in-process" else "own process"
                table.add_row(s.id, state, s.type, s.version, runs, s.source, key=s.id)
            else:
                table.add_row(s.id, state, s.version, key=s.id)
        if selected in self.statuses:
            table.move_cursor(row=table.get_row_index(selected))

    def selected_id(self) -> str | None:
        table = self.query_one("#ext-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "ext-table":
            self._show_selected()
        elif event.data_table.id == "market-table":
            self._show_entry()

    def _show_selected(self) -> None:
        ext_id = self.selected_id()
        button = self.query_one("#ext-toggle", Button)
        status = self.statuses.get(ext_id) if ext_id else None
        button.disabled = status is None
        button.label = "Enable" if status is not None and not status.enabled else "Disable"
        if ext_id is None:
            return
        self.symphony.request(GetExtensionDetail(id=ext_id), self._detailed, self._detail_failed)

    def _detail_failed(self, error: SymphonyError) -> None:
        self.query_one("#ext-detail-text", Static).update(str(error))

    def _detailed(self, detail: ExtensionDetail) -> None:
        if detail.status.id != self.selected_id():
            return  # the cursor moved on
        self.detail = detail
        s = detail.status
        muted = "dim"
        text = Text()
        text.append(f"{s.name} {s.version}", style="bold")
        text.append(f"  {s.type}, {s.source}\n")
        if s.description:
            text.append(s.description + "\n")
        if s.reason:
            colour = _colour(
                self.app.current_theme, "error" if s.state is State.FAILED else "warning"
            )
            text.append(s.reason + "\n", style=colour)
        sandbox = "sandboxed (bubblewrap)" if detail.sandboxed else detail.sandbox_note
        text.append("sandbox:".ljust(15), style=muted)
        text.append(f"{sandbox or 'not sandboxed'}\n")
        text.append("metrics:".ljust(15), style=muted)
        text.append(metrics_line(detail.metrics) + "\n")
        for line in detail.review:
            label, _, value = line.partition(":")
            text.append(f"{label}:".ljust(15), style=muted)
            text.append(value.strip() + "\n")
        if detail.requires:
            reqs = ", ".join(f"{k} {v}" for k, v in detail.requires.items())
            text.append("requires:".ljust(15), style=muted)
            text.append(reqs + "\n")
        text.rstrip()
        self.query_one("#ext-detail-text", Static).update(text)

    def action_toggle_enabled(self) -> None:
        ext_id = self.selected_id()
        status = self.statuses.get(ext_id) if ext_id else None
        if status is None:
            return
        wanted = not status.enabled
        self._say(f"{'enabling' if wanted else 'disabling'} {status.id}…")

        def done(reply: ExtensionList) -> None:
            (new,) = reply.extensions
            self._say(f"{new.id} {'enabled' if new.enabled else 'disabled'}")
            self.refresh_list()

        def failed(error: SymphonyError) -> None:
            self._say(str(error))
            self.app.notify(str(error), title="Enable/disable failed", severity="error")

        self.symphony.request(SetExtensionEnabled(id=status.id, enabled=wanted), done, failed)

    def action_refresh(self) -> None:
        self.refresh_list()
        if self.entries or self._tab() == "ext-market":
            self.search(self.query_one("#ext-search", Input).value)

    # --- engine events -----------------------------------------------------------------------

    def engine_events(self, events: Sequence[Event]) -> None:
        """Follow lifecycle changes and the running install's progress."""
        changed = False
        for event in events:
            if isinstance(event, ExtensionStateChanged):
                changed = True
            elif (
                isinstance(event, InstallProgress)
                and event.operation == self.operation
                and self.progressive is not None
                and not event.done
            ):
                self.progressive.update(event.fraction, event.message)
        if changed:
            self.refresh_list()

    # --- marketplace -------------------------------------------------------------------------

    def _tab(self) -> str:
        return self.query_one("#ext-tabs", TabbedContent).active

    def action_switch_tab(self) -> None:
        tabs = self.query_one("#ext-tabs", TabbedContent)
        if tabs.active == "ext-installed":
            tabs.active = "ext-market"
            if not self.entries:
                self.search("")
            self.query_one("#market-table", DataTable).focus()
        else:
            tabs.active = "ext-installed"
            self.query_one("#ext-table", DataTable).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "ext-market" and not self.entries:
            self.search("")

    def action_search(self) -> None:
        self.query_one("#ext-tabs", TabbedContent).active = "ext-market"
        self.query_one("#ext-search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "ext-search":
            event.stop()
            self.search(event.value)
            self.query_one("#market-table", DataTable).focus()

    def search(self, query: str) -> None:
        """Ask the configured marketplace index for ``query``."""
        self._say("searching the marketplace…")

        def failed(error: SymphonyError) -> None:
            self._say(str(error))
            self.query_one("#market-detail-text", Static).update(str(error))

        self.symphony.request(SearchMarketplace(query=query), self._listed_market, failed)

    def _listed_market(self, listing: MarketplaceListing) -> None:
        self.entries = {e.id: e for e in listing.entries}
        self._fill_market()
        found = len(listing.entries)
        where = shorten(listing.index, self.symphony.workspace)
        self._say(f"{found} extension{'s' * (found != 1)} in {where}")
        self._show_entry()

    def _fill_market(self) -> None:
        table = self.query_one("#market-table", DataTable)
        table.clear(columns=True)
        if self.wide:
            table.add_columns("ID", "LATEST", "TYPE", "INSTALLED", "DESCRIPTION")
        else:
            table.add_columns("ID", "LATEST", "INSTALLED")
        for e in self.entries.values():
            installed = e.installed or "—"
            if self.wide:
                table.add_row(e.id, e.latest, e.type, installed, e.description, key=e.id)
            else:
                table.add_row(e.id, e.latest, installed, key=e.id)

    def selected_entry(self) -> MarketplaceEntry | None:
        table = self.query_one("#market-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.entries.get(str(key.value))

    def _show_entry(self) -> None:
        entry = self.selected_entry()
        self.query_one("#ext-install-btn", Button).disabled = entry is None
        text = Text()
        if entry is not None:
            muted = "dim"
            text.append(f"{entry.name} {entry.latest}", style="bold")
            text.append(f"  {entry.type}; versions {', '.join(entry.versions)}\n")
            if entry.description:
                text.append(entry.description + "\n")
            text.append("declares:".ljust(15), style=muted)
            declared = "; ".join(f"{k} {', '.join(v)}" for k, v in entry.permissions.items())
            text.append((declared or "no permissions") + " (reviewed before install)")
        self.query_one("#market-detail-text", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "ext-toggle": self.action_toggle_enabled,
            "ext-refresh": self.action_refresh,
            "ext-install-btn": self.action_install,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    # --- review and install ------------------------------------------------------------------

    def _progress(self, title: str, on_cancel: Any = None) -> Progressive:
        if self.progressive is not None:
            self.progressive.finish()
        self.progressive = Progressive(
            self,
            title,
            on_cancel=on_cancel,
            spinner=self.query_one("#ext-spinner", Spinner),
            timings=self.timings,
        ).start()
        return self.progressive

    def _end_progress(self) -> None:
        if self.progressive is not None:
            self.progressive.finish()
            self.progressive = None

    def action_install(self) -> None:
        """Review the selected marketplace entry's install, then install it if accepted."""
        if self.progressive is not None and self.progressive.running:
            self._say("an operation is running; wait for it to finish")
            return
        entry = self.selected_entry() if self._tab() == "ext-market" else None
        if entry is None:
            self._say("select an extension in the Marketplace tab to install it")
            return
        self.review(entry.id)

    def review(self, ref: str) -> None:
        """Ask for the permission review of ``ref`` and show it."""
        self._progress(f"Reviewing {ref}")

        def reviewed(review: InstallReview) -> None:
            self._end_progress()
            self._say("")
            self.app.push_screen(
                InstallReviewScreen(review, self.symphony.workspace),
                lambda ok: self._reviewed(review, bool(ok)),
            )

        self.symphony.request(ReviewInstall(ref=ref), reviewed, self._failed)

    def _failed(self, error: SymphonyError) -> None:
        self._end_progress()
        self._say(str(error).splitlines()[0] if str(error) else type(error).__name__)
        self.app.notify(str(error), title="Extensions", severity="error", timeout=10)

    def _reviewed(self, review: InstallReview, accepted: bool) -> None:
        if not accepted:
            self._say(f"{review.ref}: nothing installed")
            return
        self.operation = f"ext-install-{next(_operations)}"
        operation = self.operation

        def cancel() -> None:
            self.symphony.request(CancelInstall(operation=operation), lambda _ack: None)

        self._progress(f"Installing {review.ref}", on_cancel=cancel)

        def installed(done: InstallDone) -> None:
            self._end_progress()
            names = ", ".join(f"{s.id} {s.version}" for s in done.installed)
            self._say(f"installed {names}" if names else "; ".join(done.notes))
            self.app.notify(names or "; ".join(done.notes), title="Installed")
            self.refresh_list()
            self.search(self.query_one("#ext-search", Input).value)

        command = InstallExtension(
            ref=review.ref, review_hash=review.review_hash, operation=operation
        )
        self.symphony.request(command, installed, self._failed, timeout=INSTALL_TIMEOUT_S)
