"""The artifacts view: search the workspace's artifact store, preview, lineage, pin, open.

Typing in the search box searches as you type (debounced by :data:`DEBOUNCE`); each search is
numbered, and a reply for an older search is dropped, so a slow answer never overwrites a newer
one. ``tag:``, ``type:``, ``producer:`` and ``since:`` words filter (see
:func:`~symphony_tui.views.artifact_format.parse_query`). The highlighted result is previewed
from the first :data:`PREVIEW_BYTES` the engine sends (never the whole artifact); ``l`` shows
its lineage, where choosing a node jumps to that artifact; ``p`` pins or unpins; ``o`` writes
it under ``.symphony/tmp/artifacts`` and opens it read-only in an editor tab. New artifacts
(``ArtifactStored``) refresh the results at most every :data:`REFRESH_EVERY` seconds.

The view reaches the engine only through ``app.request``; it must not touch the store.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from engine.pit.messages import (
    ArtifactContent,
    ArtifactExported,
    ArtifactLineage,
    ArtifactReply,
    ArtifactSearchResults,
    ArtifactStored,
    ExportArtifact,
    GetArtifactLineage,
    PinArtifact,
    ReadArtifact,
    SearchArtifacts,
)
from symphony_tui.views.artifact_format import (
    display_name,
    format_age,
    format_size,
    parse_query,
    producer_label,
    short_type,
)
from symphony_tui.views.artifact_preview import ArtifactPreview, LineageTree

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from textual import events
    from textual.app import ComposeResult
    from textual.timer import Timer

    from engine.pit.artifacts.models import ArtifactInfo, SearchHit
    from engine.types.errors import SymphonyError
    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["ArtifactsView"]

#: Quiet time after a keystroke before searching, in seconds.
DEBOUNCE = 0.15
#: A search still unanswered after this long shows "searching…" (progressive feedback).
SEARCHING_AFTER = 0.2
#: Quiet time after the highlighted result moves before its preview is fetched.
PREVIEW_DELAY = 0.08
#: Shortest time between two refreshes while new artifacts keep arriving, in seconds.
REFRESH_EVERY = 0.5
#: Results listed (one page; a DataTable draws this many at once without trouble).
PAGE = 200
#: Bytes fetched for a preview.
PREVIEW_BYTES = 256 * 1024
#: Artifacts larger than this do not open in an editor (the editor's own limit).
EDITOR_LIMIT = 20 * 1024 * 1024
#: The view is at least this wide: results and details side by side, else stacked.
WIDE = 110
#: Narrower than this: the results leave out the producer and tags columns.
FULL_COLUMNS = 70
#: Lineage depth fetched.
LINEAGE_DEPTH = 3


class ArtifactsView(Vertical):
    """Search box, results table, and the selected artifact's preview and lineage.

    Args:
        clock: the time ages are counted from (tests freeze it).
        id: the widget id.
    """

    DEFAULT_CSS = """
    ArtifactsView { height: 1fr; }
    ArtifactsView #artifacts-bar { height: 1; background: $boost; }
    ArtifactsView #artifacts-search {
        width: 1fr; height: 1; border: none; padding: 0 1; background: $boost;
    }
    ArtifactsView #artifacts-search:focus { background: $boost; }
    ArtifactsView #artifacts-status { width: auto; height: 1; padding: 0 1; color: $text-muted; }
    ArtifactsView #artifacts-status.-error { color: $text-error; }
    ArtifactsView #artifacts-body { height: 1fr; layout: vertical; }
    ArtifactsView #artifacts-results { height: 45%; }
    ArtifactsView #artifacts-table { height: 1fr; }
    ArtifactsView #artifacts-empty { height: 1fr; padding: 1 2; color: $text-muted; display: none; }
    ArtifactsView #artifacts-detail { height: 1fr; border-top: hkey $panel; }
    ArtifactsView #artifacts-lineage { display: none; height: 1fr; }
    ArtifactsView.-lineage #artifacts-lineage { display: block; }
    ArtifactsView.-lineage #artifacts-preview { display: none; }
    ArtifactsView.-wide #artifacts-body { layout: horizontal; }
    ArtifactsView.-wide #artifacts-results { height: 1fr; width: 1fr; }
    ArtifactsView.-wide #artifacts-detail {
        width: 1fr; border-top: none; border-left: vkey $panel;
    }
    ArtifactsView.-wide.-lineage #artifacts-preview { display: block; height: 3fr; }
    ArtifactsView.-wide.-lineage #artifacts-lineage { height: 2fr; border-top: hkey $panel; }
    """

    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="artifacts_search"),
        Binding("p", "toggle_pin", "Pin", tooltip="Pin or unpin the artifact", id="artifacts_pin"),
        Binding(
            "o",
            "open_in_editor",
            "Open",
            tooltip="Open the artifact read-only in an editor tab",
            id="artifacts_open",
        ),
        Binding(
            "l",
            "toggle_lineage",
            "Lineage",
            tooltip="Show or hide what the artifact was made from and what was made from it",
            id="artifacts_lineage",
        ),
        Binding("escape", "back", "Back", show=False, id="artifacts_back"),
    ]

    def __init__(self, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.hits: list[SearchHit] = []
        self.infos: dict[str, ArtifactInfo] = {}
        #: The artifact previewed (a result, or one reached through the lineage).
        self.current: str | None = None
        self.lineage: ArtifactLineage | None = None
        self._search_seq = 0
        self._search_answered = 0
        self._searched_text: str | None = None
        self._preview_seq = 0
        self._preview_answered = 0
        self._lineage_seq = 0
        self._debounce: Timer | None = None
        self._preview_timer: Timer | None = None
        self._last_refresh = 0.0
        self._refresh_timer: Timer | None = None
        self._columns: tuple[str, ...] = ()
        self._width = 0

    @property
    def symphony(self) -> SymphonyApp:
        """The app, typed."""
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    # --- composition -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="artifacts-bar"):
            yield Input(
                placeholder="Search artifacts  (tag:x type:json producer:p since:7d)",
                id="artifacts-search",
            )
            yield Static("", id="artifacts-status")
        with Horizontal(id="artifacts-body"):
            with Vertical(id="artifacts-results"):
                table: DataTable[Text] = DataTable(
                    id="artifacts-table", cursor_type="row", zebra_stripes=True
                )
                yield table
                yield Static("", id="artifacts-empty")
            with Vertical(id="artifacts-detail"):
                yield ArtifactPreview(id="artifacts-preview")
                yield LineageTree(id="artifacts-lineage")

    @property
    def search_box(self) -> Input:
        return self.query_one("#artifacts-search", Input)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#artifacts-table", DataTable)

    @property
    def preview(self) -> ArtifactPreview:
        return self.query_one(ArtifactPreview)

    @property
    def lineage_tree(self) -> LineageTree:
        return self.query_one(LineageTree)

    @property
    def lineage_shown(self) -> bool:
        """Whether the lineage pane is open."""
        return self.has_class("-lineage")

    def focus(self, scroll_visible: bool = True) -> ArtifactsView:
        """Focus the search box (the screen focuses a view when it opens it)."""
        box = self.search_box
        box.focus(scroll_visible)
        # Opening the tab shows it on the next refresh; focus is refused while it is hidden.
        self.call_after_refresh(self._focus_if_outside, scroll_visible)
        return self

    def _focus_if_outside(self, scroll_visible: bool) -> None:
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            self.search_box.focus(scroll_visible)

    def on_mount(self) -> None:
        self.symphony.add_engine_listener(self)
        self._layout(self.size.width)
        self.search_now()

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        wide = width >= WIDE
        self.set_class(wide, "-wide")
        results_width = width // 2 if wide else width
        columns: tuple[str, ...] = ("pin", "name", "type", "size", "age")
        if results_width >= FULL_COLUMNS:
            columns = ("pin", "name", "type", "size", "producer", "age", "tags")
        if columns != self._columns or width != self._width:
            self._width = width
            self._columns = columns
            self._fill_table(keep=self.current)

    # --- search ------------------------------------------------------------------------------

    @on(Input.Changed, "#artifacts-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, self.search_now)

    @on(Input.Submitted, "#artifacts-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._searched_text != event.value:
            self.search_now()
        self.table.focus()

    def search_now(self) -> None:
        """Search for what the box holds now (an empty box lists the newest artifacts)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        text = self.search_box.value
        try:
            query = parse_query(text, self.clock())
        except ValueError as e:
            self._status(str(e), error=True)
            return
        app = self.symphony
        if not app.engine.ready:
            self._status("waiting for the engine…")
            self._debounce = self.set_timer(0.25, self.search_now)
            return
        self._search_seq += 1
        seq = self._search_seq
        command = SearchArtifacts(
            query=query.words,
            tags=query.tags,
            media_type=query.media_type,
            producer=query.producer,
            since=query.since,
            limit=PAGE,
            details=True,
        )
        self._last_refresh = time.monotonic()
        app.request(
            command,
            lambda reply: self._got_results(seq, text, reply),
            lambda error: self._search_failed(seq, error),
        )
        self.set_timer(SEARCHING_AFTER, lambda: self._maybe_searching(seq))

    @property
    def searching(self) -> bool:
        """A search is waiting for its answer."""
        return self._search_answered < self._search_seq

    def _maybe_searching(self, seq: int) -> None:
        if self._search_answered < seq == self._search_seq:
            self._status("searching…")

    def _got_results(self, seq: int, text: str, reply: ArtifactSearchResults) -> None:
        if seq != self._search_seq:
            return  # an older search answered late: a newer one is on its way
        self._search_answered = seq
        self._searched_text = text
        self.hits = list(reply.hits)
        self.infos = {info.hash: info for info in reply.infos}
        count = len(self.hits)
        more = "+" if count >= PAGE else ""
        self._status(f"{count}{more} result{'s' if count != 1 else ''}")
        keep = self.current if self.current in self.infos else None
        self._fill_table(keep=keep)
        empty = self.query_one("#artifacts-empty", Static)
        empty.display = not self.hits
        self.table.display = bool(self.hits)
        if not self.hits:
            empty.update(
                Text(
                    "Nothing matches. Words match whole; end one with * for a prefix (pyt*)."
                    if text.strip()
                    else "No artifacts yet. Runs keep their outputs here;"
                    " `symphony artifacts put FILE` adds one."
                )
            )
        if keep is None:
            if self.hits:
                self._select(self.hits[0].hash)
            elif self.current is None or self.current not in self.infos:
                self.current = None
                self._preview_work(partial(self.preview.show_message, "No artifact selected."))

    def _search_failed(self, seq: int, error: SymphonyError) -> None:
        if seq != self._search_seq:
            return
        self._search_answered = seq
        self._status(str(error).splitlines()[0], error=True)

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#artifacts-status", Static)
        status.update(Text(text))
        status.set_class(error, "-error")

    def _row(self, info: ArtifactInfo) -> list[Text]:
        cells = {
            "pin": Text("●" if info.pinned else " ", style=self._accent()),
            "name": Text(display_name(info), no_wrap=True, overflow="ellipsis"),
            "type": Text(short_type(info.media_type), no_wrap=True, overflow="ellipsis"),
            "size": Text(format_size(info.size), justify="right"),
            "producer": Text(producer_label(info), no_wrap=True, overflow="ellipsis"),
            "age": Text(format_age(self.clock() - info.created_at), justify="right"),
            "tags": Text(" ".join(info.tags), no_wrap=True, overflow="ellipsis"),
        }
        return [cells[c] for c in self._columns]

    def _accent(self) -> str:
        return self.app.theme_variables.get("text-accent", "")

    def _widths(self) -> dict[str, int]:
        fixed = {"pin": 1, "type": 9, "size": 8, "producer": 12, "age": 8, "tags": 10}
        width = (self._width // 2 if self.has_class("-wide") else self._width) - 1
        used = sum(fixed[c] for c in self._columns if c != "name") + 2 * len(self._columns) + 2
        return {**fixed, "name": max(10, width - used)}

    def _cursor_key(self) -> str | None:
        """The hash of the result under the table's cursor, if any."""
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except (KeyError, IndexError):  # the cursor is past the rows
            return None

    def _fill_table(self, *, keep: str | None) -> None:
        """Rebuild the table; the cursor stays on the artifact it was on (else on ``keep``)."""
        table = self.table
        under_cursor = self._cursor_key()
        if under_cursor in self.infos:
            keep = under_cursor
        table.clear(columns=True)
        widths = self._widths()
        titles = {"pin": "", "size": "Size", "age": "Age"}
        for column in self._columns:
            table.add_column(
                titles.get(column, column.capitalize()), width=widths[column], key=column
            )
        for hit in self.hits:
            info = self.infos.get(hit.hash)
            if info is not None:
                table.add_row(*self._row(info), key=hit.hash)
        if keep is not None and keep in self.infos:
            table.move_cursor(row=table.get_row_index(keep), scroll=True)

    # --- selection and preview ---------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#artifacts-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        # Highlight messages can arrive after the cursor moved on (a refill posts its own):
        # the preview follows where the cursor is when the quiet time is over.
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._follow_cursor)

    def _follow_cursor(self) -> None:
        self._preview_timer = None
        digest = self._cursor_key()
        if digest is not None and digest != self.current:
            self._select(digest)

    @on(DataTable.RowSelected, "#artifacts-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a result: preview it and move into the preview to scroll it."""
        event.stop()
        digest = event.row_key.value
        if digest is not None and digest != self.current:
            self._select(digest)
        widget = self.preview.content_widget
        if widget is not None and widget.focusable:
            widget.focus()

    def select_artifact(self, digest: str) -> None:
        """Preview ``digest`` (and show its lineage if the lineage is open)."""
        self._select(digest)

    def _select(self, digest: str) -> None:
        self.current = digest
        self._preview_seq += 1
        seq = self._preview_seq
        info = self.infos.get(digest) or self._lineage_info(digest)
        if info is not None:
            self.preview.set_info(info)
        self.symphony.request(
            ReadArtifact(ref=digest, max_bytes=PREVIEW_BYTES),
            lambda reply: self._got_content(seq, reply),
            lambda error: self._preview_failed(seq, error),
        )
        self.set_timer(SEARCHING_AFTER, lambda: self._maybe_loading(seq))
        if self.lineage_shown:
            self._fetch_lineage(digest)
        self.refresh_bindings()

    def _lineage_info(self, digest: str) -> ArtifactInfo | None:
        return self.lineage.nodes.get(digest) if self.lineage is not None else None

    def _maybe_loading(self, seq: int) -> None:
        if self._preview_answered < seq == self._preview_seq:
            self._preview_work(partial(self.preview.show_message, "loading…"))

    def _got_content(self, seq: int, reply: ArtifactContent) -> None:
        if seq != self._preview_seq:
            return
        self._preview_answered = seq
        self._update_info(reply.info)
        self._preview_work(partial(self.preview.show, reply))

    def _preview_failed(self, seq: int, error: SymphonyError) -> None:
        if seq != self._preview_seq:
            return
        self._preview_answered = seq
        info = self.infos.get(self.current or "")
        self._preview_work(partial(self.preview.show_message, f"Cannot preview: {error}", info))

    def _preview_work(self, work: Callable[[], Awaitable[None]]) -> None:
        """Change the preview; a later change cancels one still in progress (or not started:
        a function, not a coroutine, so a cancelled change leaves nothing un-awaited)."""
        self.run_worker(work, group="preview", exclusive=True)

    def _update_info(self, info: ArtifactInfo) -> None:
        """New metadata of an artifact: its row and, if it is the current one, the header."""
        if info.hash in self.infos:
            self.infos[info.hash] = info
            table = self.table
            if info.hash in table.rows:
                for column, cell in zip(self._columns, self._row(info), strict=True):
                    table.update_cell(info.hash, column, cell)
        if info.hash == self.current:
            self.preview.set_info(info)

    # --- lineage -----------------------------------------------------------------------------

    def action_toggle_lineage(self) -> None:
        """Show (and focus) or hide the lineage of the current artifact."""
        if self.lineage_shown:
            self.remove_class("-lineage")
            self.table.focus()
            return
        self.add_class("-lineage")
        self.lineage_tree.focus()
        if self.current is not None:
            self._fetch_lineage(self.current)

    def _fetch_lineage(self, digest: str) -> None:
        self._lineage_seq += 1
        seq = self._lineage_seq
        self.symphony.request(
            GetArtifactLineage(ref=digest, depth=LINEAGE_DEPTH),
            lambda reply: self._got_lineage(seq, reply),
            lambda error: self._lineage_failed(seq, error),
        )

    def _got_lineage(self, seq: int, reply: ArtifactLineage) -> None:
        if seq != self._lineage_seq:
            return
        self.lineage = reply
        self.lineage_tree.show(reply)

    def _lineage_failed(self, seq: int, error: SymphonyError) -> None:
        if seq == self._lineage_seq:
            self.notify(str(error), title="Lineage", severity="error")

    def on_lineage_tree_jump(self, event: LineageTree.Jump) -> None:
        """A lineage node was chosen: show that artifact, in the results too if it is there."""
        event.stop()
        if event.digest in self.infos and event.digest in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(event.digest), scroll=True)
        self._select(event.digest)

    # --- pin, open, navigation ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pin and open need an artifact (shown greyed out otherwise)."""
        if action in ("toggle_pin", "open_in_editor", "toggle_lineage"):
            return self.current is not None or None
        return True

    def current_info(self) -> ArtifactInfo | None:
        """Metadata of the artifact shown, as last heard from the engine."""
        if self.current is None:
            return None
        shown = self.preview.info
        if shown is not None and shown.hash == self.current:
            return shown
        return self.infos.get(self.current) or self._lineage_info(self.current)

    def action_toggle_pin(self) -> None:
        """Pin the current artifact (tiering never moves it), or unpin it."""
        info = self.current_info()
        if info is None:
            return

        def done(reply: ArtifactReply) -> None:
            self._update_info(reply.info)
            state = "pinned" if reply.info.pinned else "unpinned"
            self.notify(f"{display_name(reply.info)} {state}", timeout=2)

        self.symphony.request(PinArtifact(ref=info.hash, pinned=not info.pinned), done)

    def action_open_in_editor(self) -> None:
        """Write the artifact under ``.symphony/tmp/artifacts`` and open it in an editor tab."""
        if self.current is None:
            return
        self.symphony.request(
            ExportArtifact(ref=self.current, max_bytes=EDITOR_LIMIT),
            self._exported,
        )

    def _exported(self, reply: ArtifactExported) -> None:
        self.run_worker(self._open_exported(reply), group="open")

    async def _open_exported(self, reply: ArtifactExported) -> None:
        from symphony_tui.screens.main import MainScreen

        screen = self.symphony.main_screen
        if not isinstance(screen, MainScreen):
            return
        editor = await screen.open_file(Path(reply.path))
        if editor is not None:
            # A copy: editing it would not change the artifact, so it opens read-only.
            editor.area.read_only = True

    def action_focus_search(self) -> None:
        """Move to the search box."""
        self.search_box.focus()

    def action_back(self) -> None:
        """Escape: from the preview or lineage back to the results, from there to the search."""
        focused = self.screen.focused
        if focused is self.table:
            self.search_box.focus()
        elif focused is self.search_box:
            return
        else:
            self.table.focus()

    def on_key(self, event: events.Key) -> None:
        """Down from the search box goes to the results."""
        if event.key == "down" and self.screen.focused is self.search_box and self.hits:
            event.stop()
            self.table.focus()

    # --- engine events -----------------------------------------------------------------------

    def engine_events(self, events: Sequence[Event]) -> None:
        """New artifacts: search again, at most every :data:`REFRESH_EVERY` seconds."""
        stored = [e for e in events if isinstance(e, ArtifactStored)]
        if not stored:
            return
        for event in stored:
            self._update_info(event.info)
        if self._refresh_timer is not None:
            return  # a refresh is already coming
        wait = max(0.01, self._last_refresh + REFRESH_EVERY - time.monotonic())
        self._refresh_timer = self.set_timer(wait, self._refresh)

    def _refresh(self) -> None:
        self._refresh_timer = None
        if self._debounce is None:  # a search for new typing is coming anyway
            self.search_now()
