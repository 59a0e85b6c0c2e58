"""``MotifView``: one motif panel in the TUI, kept in step with its motif.

On mount the view asks the engine for the panel (``OpenPanel``) and mounts the tree it gets;
it then follows ``PanelPatched`` events (as an engine listener of the app) and applies the
patches in place through :class:`~symphony_tui.motifs.renderer.TextualTarget`. What the user
does to its widgets goes back as ``PanelEvent`` commands. It reaches the engine only through
the app's ``request`` and engine-listener calls, never the bus.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from engine.extensions.motif_messages import (
    ClosePanel,
    OpenPanel,
    PanelEvent,
    PanelOpened,
    PanelPatched,
)
from symphony_sdk.vdom import UiEvent, VDomError, apply_to, decode_patches, decode_tree, encode
from symphony_tui.motifs.renderer import TextualTarget

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.types.errors import SymphonyError
    from engine.types.messages import Command, Event
    from symphony_sdk.vdom import JSONValue
    from symphony_sdk.vdom.elements import EventKind
    from symphony_tui.motifs.renderer import MNode

__all__ = ["MotifView"]

log = logging.getLogger(__name__)

#: Values an input sent recently, whose echo in a later tree must not reset what the user has
#: typed since.
ECHOES = 64


class _EngineApp(Protocol):
    def request(
        self,
        command: Command,
        on_reply: Callable[[Any], None],
        on_error: Callable[[SymphonyError], None] | None = None,
    ) -> None: ...

    def add_engine_listener(self, listener: Any) -> None: ...

    def remove_engine_listener(self, listener: Any) -> None: ...


class MotifView(Vertical):
    """The panel ``panel_id`` of a motif.

    Attributes:
        version: the version of the tree shown (None until the first tree arrives).
        error: why the panel shows an error instead of the motif's content ("" when it does
            not).
    """

    DEFAULT_CSS = """
    MotifView {
        height: 1fr;
        padding: 0 1;
        & .motif-root { height: 1fr; }
        & .motif-vertical { height: auto; }
        & .motif-horizontal { height: auto; }
        & .motif-horizontal > * { width: auto; margin-right: 1; }
        & .motif-horizontal > .motif-input { width: 1fr; min-width: 10; }
        & .motif-horizontal > .motif-select { width: 1fr; min-width: 16; }
        & .motif-horizontal > .motif-button { min-width: 11; }
        & .motif-scroll { height: 1fr; }
        & .-titled { border: round $primary; border-title-color: $text; }
        & .motif-table { height: 1fr; min-height: 4; }
        & .motif-label { width: auto; max-width: 100%; }
        & .motif-markdown { height: auto; }
        & .motif-progress { height: 1; }
        & .-tone-muted { color: $text-muted; }
        & .-tone-accent { color: $text-accent; }
        & .-tone-success { color: $text-success; }
        & .-tone-warning { color: $text-warning; }
        & .-tone-error { color: $text-error; }
        & .-bold { text-style: bold; }
        & #motif-status { color: $text-muted; }
        & #motif-status.-failed { color: $text-error; }
    }
    """

    def __init__(self, panel_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.panel_id = panel_id
        self.target = TextualTarget(self)
        self.version: int | None = None
        self.error = ""
        self.title = panel_id
        self._pending: list[PanelPatched] = []
        self._echoes: dict[int, deque[str]] = {}
        self._opened = False

    @staticmethod
    def view_key(panel_id: str) -> str:
        """The key of the panel's tab for ``MainScreen.open_view`` (a Textual identifier)."""
        return "motif-" + panel_id.replace(".", "--")

    @property
    def _engine_app(self) -> _EngineApp:
        app: Any = self.app
        return app  # type: ignore[no-any-return]

    # --- lifecycle ---------------------------------------------------------------------------

    def compose(self) -> Any:
        yield Static(Text(f"Opening {self.panel_id}…"), id="motif-status")

    def on_mount(self) -> None:
        self._engine_app.add_engine_listener(self)
        self._open()

    def on_unmount(self) -> None:
        app = self._engine_app
        app.remove_engine_listener(self)
        if self._opened:
            self._opened = False
            app.request(ClosePanel(panel=self.panel_id), lambda _reply: None, _ignore)

    def _open(self) -> None:
        self._engine_app.request(OpenPanel(panel=self.panel_id), self._on_opened, self._on_failed)

    def _on_opened(self, reply: PanelOpened) -> None:
        if not self.is_mounted:
            self._engine_app.request(ClosePanel(panel=self.panel_id), lambda _r: None, _ignore)
            return
        self._opened = True
        self.title, self.error = reply.title, reply.error
        try:
            tree = decode_tree(reply.tree)
        except VDomError as e:
            self._on_failed(e)
            return
        self._status().remove()
        self.target.mount(tree)
        self.version = reply.version
        pending, self._pending = self._pending, []
        self._apply(pending)

    def _on_failed(self, error: SymphonyError) -> None:
        if not self.is_mounted:
            return
        self.error = str(error)
        status = self._status()
        status.update(Text(f"{self.panel_id} could not be opened: {error}"))
        status.add_class("-failed")

    def _status(self) -> Static:
        found = self.query("#motif-status")
        if found:
            widget = found.first()
            assert isinstance(widget, Static)
            return widget
        status = Static(id="motif-status")
        self.mount(status, before=0)
        return status

    # --- engine → view -----------------------------------------------------------------------

    def engine_events(self, events: Sequence[Event]) -> None:
        """Apply the patches of this panel among ``events`` (on the UI thread)."""
        mine = [e for e in events if isinstance(e, PanelPatched) and e.panel == self.panel_id]
        if not mine:
            return
        if self.version is None:
            self._pending.extend(mine)  # the OpenPanel reply is still on its way
            return
        self._apply(mine)

    def _apply(self, events: Sequence[PanelPatched]) -> None:
        for event in events:
            if self.version is None or event.base < self.version:
                continue  # older than the tree shown
            if event.base > self.version:
                self._reopen("a change was missed")
                return
            try:
                with self.app.batch_update():
                    apply_to(self.target, self._without_echoes(decode_patches(event.patches)))
            except VDomError as e:
                log.warning("panel %s: patches did not apply: %s", self.panel_id, e)
                self._reopen(str(e))
                return
            self.version, self.error = event.version, event.error

    def _reopen(self, why: str) -> None:
        log.info("panel %s: reloading it (%s)", self.panel_id, why)
        self.version = None
        if self._opened:
            self._opened = False
            self._engine_app.request(ClosePanel(panel=self.panel_id), lambda _r: None, _ignore)
        self._open()

    def _without_echoes(self, patches: list[Any]) -> list[Any]:
        """Drop an input's ``value`` prop when it only repeats what the input sent: the user
        may have typed more since, which the old value would wipe out."""
        if not self._echoes:
            return patches
        from symphony_sdk.vdom import SetProps

        kept: list[Any] = []
        for patch in patches:
            if isinstance(patch, SetProps) and "value" in patch.props:
                node = self._node_at(patch.path)
                sent = self._echoes.get(id(node)) if node is not None else None
                value = patch.props["value"]
                if sent is not None and value in sent:
                    while sent and sent.popleft() != value:
                        pass
                    props = {k: v for k, v in patch.props.items() if k != "value"}
                    patch = SetProps(path=patch.path, props=props, removed=patch.removed)
            kept.append(patch)
        return kept

    def _node_at(self, path: Sequence[Any]) -> MNode | None:
        try:
            node: Any = self.target.root()
            for segment in path:
                node = self.target.child(node, segment)
        except VDomError:
            return None
        return node  # type: ignore[no-any-return]

    # --- view → engine -----------------------------------------------------------------------

    def _send(self, node: MNode | None, kind: EventKind, value: JSONValue) -> bool:
        if node is None or self.version is None:
            return False
        event = UiEvent(path=node.path(), kind=kind, value=value)
        self._engine_app.request(
            PanelEvent(panel=self.panel_id, event=encode(event), version=self.version),
            lambda _reply: None,
            self._on_event_failed,
        )
        return True

    def _on_event_failed(self, error: SymphonyError) -> None:
        if isinstance(error, VDomError) or getattr(error, "remote_code", "").startswith("motif"):
            log.info("panel %s: event not delivered: %s", self.panel_id, error)
            return  # the tree changed under the user's hand; the next tree shows the truth
        self.notify(str(error), title=self.title, severity="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if self._send(self.target.node_of(event.button), "press", None):
            event.stop()

    def on_input_changed(self, event: Input.Changed) -> None:
        node = self.target.node_of(event.input)
        if self._send(node, "change", event.value):
            self._echoes.setdefault(id(node), deque(maxlen=ECHOES)).append(event.value)
            event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._send(self.target.node_of(event.input), "submit", event.value):
            event.stop()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if self._send(self.target.node_of(event.checkbox), "change", event.value):
            event.stop()

    def on_select_changed(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None
        if self._send(self.target.node_of(event.select), "select", value):
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.target.node_of(event.data_table) is None:
            return
        if self._send(self.target.row_of(event.row_key), "select", None):
            event.stop()


def _ignore(_error: SymphonyError) -> None:
    """Closing a panel the engine no longer has is fine."""
