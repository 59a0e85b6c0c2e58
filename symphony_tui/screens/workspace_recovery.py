"""Crash safety for the workspace screen: unsaved buffers and the layout in the recovery area.

Every few seconds (and synchronously on SIGHUP/SIGTERM) :meth:`WorkspaceRecovery.flush` writes
each unsaved buffer that changed since the last flush and the layout (open tabs, sidebar and
panel) to the :class:`~engine.files.recovery.RecoveryStore`; a saved, reloaded or discarded
buffer leaves it. At the next start the layout is restored and the buffers are offered back.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches
from textual.widgets import TabbedContent, TabPane

from symphony_tui.screens.editor_dialogs import ChoiceDialog

if TYPE_CHECKING:
    from engine.files.recovery import RecoveredBuffer, RecoveryStore
    from symphony_tui.screens.main import MainScreen

__all__ = ["WorkspaceRecovery"]

log = logging.getLogger(__name__)


class WorkspaceRecovery:
    """What one workspace screen keeps in its recovery area.

    Args:
        screen: the workspace screen whose editors and layout are kept.
        store: the recovery area; None keeps nothing.
        restore_layout: reopen the previous session's layout at :meth:`start`.
    """

    def __init__(
        self, screen: MainScreen, store: RecoveryStore | None, *, restore_layout: bool
    ) -> None:
        self.screen = screen
        self.store = store
        self._restore_wanted = restore_layout
        #: Buffers this session wrote: relative path -> hash of the text.
        self._written: dict[str, str] = {}
        self._last_layout: dict[str, Any] | None = None
        self._failed = False
        #: The layout is kept only once the previous one has been read (at start).
        self._layout_ready = False

    def forget(self, rel: str) -> None:
        """Remove ``rel``'s buffer from the recovery area (saved, reloaded or discarded)."""
        self._written.pop(rel, None)
        if self.store is not None:
            try:
                self.store.discard(rel)
            except OSError as e:
                log.warning("cannot remove recovery entry %s: %s", rel, e)

    def _problem(self, error: OSError) -> None:
        log.warning("cannot write the recovery area: %s", error)
        if not self._failed:  # say it once, not every 5 s
            self._failed = True
            self.screen.notify(
                f"unsaved buffers cannot be kept for recovery: {error.strerror or error}",
                title="Recovery",
                severity="warning",
            )

    def flush(self) -> None:
        """Write every unsaved buffer (changed since the last flush) and the layout to the
        recovery area; drop the entries of buffers no longer unsaved. Synchronous: the SIGHUP
        and SIGTERM handlers call it too."""
        store = self.store
        if store is None or not self.screen.is_attached:
            return
        current: dict[str, str] = {}
        try:
            for editor in self.screen.dirty_editors():
                rel = self.screen.relative(editor.path)
                text = editor.text
                digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
                current[rel] = digest
                if self._written.get(rel) != digest:
                    store.save(rel, text, base_sha256=editor.base_sha256)
                    self._written[rel] = digest
            for rel in list(self._written):
                if rel not in current:
                    self.forget(rel)
        except OSError as e:
            self._problem(e)
        self.save_layout()

    def layout_state(self) -> dict[str, Any]:
        """The open tabs and panels, as kept in the recovery area."""
        tabs = self.screen.query_one("#main-tabs", TabbedContent)
        by_tab = {tab: path for path, tab in self.screen.file_tabs.items()}
        editors: list[str] = []
        terminals = 0
        active: str | None = None
        for pane in tabs.query(TabPane):
            if pane.id in by_tab:
                rel = self.screen.relative(by_tab[pane.id])
                editors.append(rel)
                if pane.id == tabs.active:
                    active = f"file:{rel}"
            elif pane.id and pane.id.startswith("tab-terminal-"):
                if pane.id == tabs.active:
                    active = f"terminal:{terminals}"
                terminals += 1
        return {
            "editors": editors,
            "terminals": terminals,
            "sidebar": bool(self.screen.query_one("#sidebar").display),
            "panel": bool(self.screen.query_one("#panel").display),
            "panel_height": self.screen.panel_rows,
            "sidebar_width": self.screen.sidebar_columns,
            "active": active,
        }

    def save_layout(self) -> None:
        """Keep the layout in the recovery area (when it changed)."""
        if self.store is None or not self.screen.is_attached or not self._layout_ready:
            return
        try:
            layout = self.layout_state()
        except NoMatches:  # the screen is being taken down
            return
        if layout == self._last_layout:
            return
        try:
            self.store.save_layout(layout)
        except OSError as e:
            self._problem(e)
            return
        self._last_layout = layout

    async def restore_layout(self, layout: dict[str, Any]) -> None:
        """Reopen the tabs of a previous session: editors whose files still exist, as many
        (fresh) terminals, the sidebar and panel as they were."""
        opened: dict[str, str] = {}
        terminals: list[str] = []
        editors = layout.get("editors")
        for rel in editors if isinstance(editors, list) else []:
            if isinstance(rel, str) and (self.screen.workspace / rel).is_file():
                await self.screen.open_file(self.screen.workspace / rel)
                tab = self.screen.file_tabs.get((self.screen.workspace / rel).absolute())
                if tab is not None:
                    opened[f"file:{rel}"] = tab
        count = layout.get("terminals")
        for _ in range(min(count, 20) if isinstance(count, int) else 0):
            terminal = await self.screen.open_terminal()
            if terminal.parent is not None and terminal.parent.id:
                terminals.append(terminal.parent.id)
        opened.update({f"terminal:{i}": tab for i, tab in enumerate(terminals)})
        width, height = layout.get("sidebar_width"), layout.get("panel_height")
        if isinstance(width, int) and not isinstance(width, bool):
            self.screen.set_sidebar_width(width)
        if isinstance(height, int) and not isinstance(height, bool):
            self.screen.set_panel_height(height)
        if layout.get("sidebar") is False:
            self.screen.action_toggle_sidebar()
        if layout.get("panel") is True and not self.screen.query_one("#panel").display:
            await self.screen.action_toggle_panel()
        active = layout.get("active")
        if isinstance(active, str) and active in opened:
            self.screen.query_one("#main-tabs", TabbedContent).active = opened[active]

    async def start(self) -> None:
        store = self.store
        if store is None:
            return
        if self._restore_wanted:
            layout = store.load_layout()
            if layout is not None:
                await self.restore_layout(layout)
        self._layout_ready = True
        self.save_layout()
        entries = store.entries()
        if entries.problems:
            self.screen.notify(
                f"{len(entries.problems)} damaged file(s) in the recovery area were skipped",
                title="Recovery",
                severity="warning",
            )
        if entries:
            self.offer(list(entries))

    def offer(self, buffers: list[RecoveredBuffer]) -> None:
        """Ask whether to restore the unsaved buffers of a previous session."""
        count = len(buffers)
        lines = [
            f"  {b.path}" + ("  (changed on disk since)" if b.disk_changed else "")
            for b in buffers[:8]
        ]
        if count > 8:
            lines.append(f"  and {count - 8} more")
        plural = "buffer" if count == 1 else "buffers"

        async def answered(choice: str | None) -> None:
            if choice == "restore":
                await self.restore_buffers(buffers)
            elif choice == "discard" and self.store is not None:
                for buffer in buffers:
                    self.forget(buffer.path)

        self.screen.app.push_screen(
            ChoiceDialog(
                "Restore unsaved work?",
                f"{count} unsaved {plural} from a previous session:\n" + "\n".join(lines),
                [("restore", "Restore"), ("discard", "Discard")],
            ),
            answered,
        )

    async def restore_buffers(self, buffers: list[RecoveredBuffer]) -> None:
        """Open each recovered buffer in an editor with its recovered (unsaved) text."""
        for buffer in buffers:
            editor = await self.screen.open_file(
                self.screen.workspace / buffer.path, missing_ok=True
            )
            if editor is None:
                self.screen.notify(
                    f"{buffer.path} cannot be edited any more; its recovered text is kept",
                    title="Recovery",
                    severity="warning",
                )
                continue
            editor.restore_text(buffer.text, base_sha256=buffer.base_sha256)
            if buffer.disk_changed:
                self.screen.notify(
                    f"{buffer.path} changed on disk since; the recovered text is shown",
                    title="Recovery",
                    severity="warning",
                )
