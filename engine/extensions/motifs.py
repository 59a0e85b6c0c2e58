"""Motif panels on the engine's side: render trees, pass events on, send patches.

A view opens a panel (:class:`~engine.extensions.motif_messages.OpenPanel`) and gets the tree
its motif renders; after each event the user causes, and whenever the motif calls
``refresh()``, the panel is rendered again, diffed against the tree the views show
(:func:`symphony_sdk.vdom.diff`) and only the patches go out, as
:class:`~engine.extensions.motif_messages.PanelPatched`. In-process motifs are called directly;
a motif in its own process is called over its host's IPC connection, and its ``refresh()``
comes back as the IPC event ``motif.refresh``.

A tree from a motif is untrusted: it is validated (every problem named with its location) and
a render that fails or returns an invalid tree puts an error tree with a *Try again* button in
the panel instead, so a broken motif never breaks the views. Calls into one motif are
serialised (its ``render`` and ``on_event`` never overlap). This module must not import
Textual.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from engine.extensions.motif_messages import (
    ClosePanel,
    OpenPanel,
    PanelEvent,
    PanelInfo,
    PanelOpened,
    PanelPatched,
)
from engine.types.errors import ExtensionError, SymphonyError, UsageError
from engine.types.messages import Ack
from symphony_sdk.base import Motif
from symphony_sdk.vdom import (
    Element,
    UiEvent,
    VDomError,
    decode_event,
    decode_tree,
    diff,
    encode,
    h,
    validate,
    validate_event,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.extensions.manager import ExtensionManager
    from engine.types.messages import Event

__all__ = ["ERROR_KEY", "RETRY_KEY", "MotifService", "error_tree"]

log = logging.getLogger("symphony.extensions")

#: Keys of the error tree shown in place of a panel whose render failed.
ERROR_KEY = "symphony-error"
RETRY_KEY = "symphony-retry"
#: Characters of an error message shown in a panel.
ERROR_CHARS = 4000
#: How long :meth:`MotifService.stop` waits for a render in progress.
STOP_TIMEOUT_S = 5.0


def error_tree(title: str, message: str) -> Element:
    """What a panel shows when its motif could not render it."""
    if len(message) > ERROR_CHARS:
        message = message[:ERROR_CHARS] + " […]"
    return h(
        "vertical",
        h("label", f"{title} could not be shown", key="headline", tone="error", bold=True),
        h("label", message, key="message"),
        h("button", key=RETRY_KEY, label="Try again"),
        key=ERROR_KEY,
        title=title,
    )


class _Driver(Protocol):
    """One motif, in this process or in its host."""

    def render(self, panel: str) -> Element: ...

    def event(self, panel: str, event: UiEvent) -> None: ...


class _LocalDriver:
    def __init__(self, motif: Motif) -> None:
        self._motif = motif

    def render(self, panel: str) -> Element:
        tree = self._motif.render(panel)
        if not isinstance(tree, Element):
            raise ExtensionError(
                f"render({panel!r}) returned {type(tree).__name__}, not an Element"
            )
        return validate(tree)

    def event(self, panel: str, event: UiEvent) -> None:
        self._motif.on_event(panel, event)


class _HostedDriver:
    def __init__(self, hosted: Any) -> None:
        self._hosted = hosted

    def render(self, panel: str) -> Element:
        data = self._hosted.motif_call("render", {"panel": panel})
        if not isinstance(data, bytes):
            raise ExtensionError(f"render({panel!r}) sent {type(data).__name__}, not a tree")
        return decode_tree(data)  # validated again: the host is not trusted

    def event(self, panel: str, event: UiEvent) -> None:
        self._hosted.motif_call("event", {"panel": panel, "event": encode(event)})


@dataclass
class _Panel:
    info: PanelInfo
    tree: Element | None = None
    version: int = 0
    views: int = 0
    error: str = ""


class MotifService:
    """The open panels of one workspace's motifs.

    Args:
        manager: returns the extension manager (raises when extensions are not started).
        emit: publishes :class:`PanelPatched` events (the bus).
    """

    def __init__(
        self, manager: Callable[[], ExtensionManager], emit: Callable[[Event], None]
    ) -> None:
        self._manager = manager
        self._emit = emit
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._panels: dict[str, _Panel] = {}
        self._motif_locks: dict[str, threading.RLock] = {}
        self._dirty: set[tuple[str, str | None]] = set()  # bounded: one per motif and panel
        self._versions = itertools.count(1)  # never reused, so stale patches never fit
        self._worker: threading.Thread | None = None
        self._closed = False

    # --- queries -----------------------------------------------------------------------------

    def panels(self) -> list[PanelInfo]:
        """Every panel of an enabled, working motif, by title (a panel id declared twice
        belongs to the first motif by id)."""
        manager = self._manager()
        found: dict[str, PanelInfo] = {}
        for status in manager.statuses():
            if status.type != "motif" or not status.enabled or status.state.value == "failed":
                continue
            for spec in manager.manifest(status.id).contributes.panels:
                found.setdefault(
                    spec.id, PanelInfo(id=spec.id, title=spec.title, extension=status.id)
                )
        return sorted(found.values(), key=lambda p: (p.title.lower(), p.id))

    def _info(self, panel_id: str) -> PanelInfo:
        panels = {p.id: p for p in self.panels()}
        info = panels.get(panel_id)
        if info is None:
            close = difflib.get_close_matches(panel_id, list(panels), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"no enabled motif contributes panel {panel_id!r}{hint}")
        return info

    # --- commands ----------------------------------------------------------------------------

    def open(self, cmd: OpenPanel) -> PanelOpened:
        """Render the panel for one more view and return its tree."""
        info = self._info(cmd.panel)
        with self._motif_lock(info.extension):
            with self._lock:
                panel = self._panels.get(info.id)
                if panel is None:
                    panel = self._panels[info.id] = _Panel(info)
                panel.views += 1
            self._render(panel)
            assert panel.tree is not None
            return PanelOpened(
                panel=info.id,
                title=info.title,
                extension=info.extension,
                version=panel.version,
                tree=encode(panel.tree),
                error=panel.error,
            )

    def close(self, cmd: ClosePanel) -> Ack:
        """One view of the panel is gone; the last one forgets the panel's tree."""
        with self._lock:
            panel = self._panels.get(cmd.panel)
            if panel is not None:
                panel.views -= 1
                if panel.views <= 0:
                    del self._panels[cmd.panel]
        return Ack()

    def event(self, cmd: PanelEvent) -> Ack:
        """Give the motif what the user did, then render the panel again.

        Raises:
            UsageError: the panel is not open.
            VDomError: the event does not fit the panel's tree (it changed meanwhile).
            ExtensionError: the motif's ``on_event`` failed (the panel is rendered anyway).
        """
        event = decode_event(cmd.event)
        with self._lock:
            found = self._panels.get(cmd.panel)
        if found is None:
            raise UsageError(f"panel {cmd.panel!r} is not open")
        panel = found
        with self._motif_lock(panel.info.extension):
            if panel.tree is None:
                raise UsageError(f"panel {cmd.panel!r} is not open")
            validate_event(panel.tree, event)
            failure: SymphonyError | None = None
            if not (panel.error and event.key == RETRY_KEY):
                try:
                    self._driver(panel.info.extension).event(panel.info.id, event)
                except BaseException as e:  # extension code must not end Symphony
                    if isinstance(e, KeyboardInterrupt):
                        raise
                    failure = ExtensionError(
                        f"panel {panel.info.id} of {panel.info.extension}: on_event failed: "
                        f"{_reason(e)}"
                    )
                    log.warning("%s", failure)
            self._render(panel)
        if failure is not None:
            raise failure
        return Ack()

    # --- re-rendering ------------------------------------------------------------------------

    def request_refresh(self, extension: str, panel: str | None) -> None:
        """Render ``panel`` (every open panel of ``extension`` when None) again soon; thread
        safe and quick (a motif's ``refresh()`` lands here)."""
        with self._lock:
            if self._closed:
                return
            self._dirty.add((extension, panel))
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="motif-refresh", daemon=True
                )
                self._worker.start()
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._dirty and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                dirty, self._dirty = self._dirty, set()
                targets = [
                    p
                    for p in self._panels.values()
                    if any(
                        ext == p.info.extension and (want is None or want == p.info.id)
                        for ext, want in dirty
                    )
                ]
            for panel in targets:
                with self._motif_lock(panel.info.extension):
                    with self._lock:
                        still_open = self._panels.get(panel.info.id) is panel
                    if still_open:
                        self._render(panel)

    def stop(self) -> None:
        """End the refresh worker (after the render in progress, bounded)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(STOP_TIMEOUT_S)

    # --- internals ---------------------------------------------------------------------------

    def _motif_lock(self, extension: str) -> threading.RLock:
        with self._lock:
            lock = self._motif_locks.get(extension)
            if lock is None:
                lock = self._motif_locks[extension] = threading.RLock()
            return lock

    def _driver(self, extension: str) -> _Driver:
        instance = self._manager().active_instance(extension)
        if isinstance(instance, Motif):
            instance.bind_refresh(lambda panel: self.request_refresh(extension, panel))
            return _LocalDriver(instance)
        from engine.extensions.host import HostedExtension

        if isinstance(instance, HostedExtension) and instance.manifest.extension.type == "motif":
            instance.connect_refresh(lambda panel: self.request_refresh(extension, panel))
            return _HostedDriver(instance)
        raise ExtensionError(f"extension {extension} is not a motif")

    def _render(self, panel: _Panel) -> None:
        """Render ``panel`` now (its motif's lock held) and send the patches to its views."""
        info = panel.info
        where = f"panel {info.id} of {info.extension}"
        error = ""
        try:
            tree = self._driver(info.extension).render(info.id)
        except VDomError as e:
            error = f"{where}: the tree is invalid:\n{e}"
        except SymphonyError as e:
            error = f"{where}: {e}"
        except BaseException as e:  # extension code must not end Symphony
            if isinstance(e, KeyboardInterrupt):
                raise
            error = f"{where}: render failed: {_reason(e)}"
        if error:
            log.warning("%s", error)
            tree = error_tree(info.title, error)
        old, base = panel.tree, panel.version
        panel.tree, panel.error = tree, error
        if old is None:
            panel.version = next(self._versions)
            return
        patches = diff(old, tree)
        if not patches:
            return
        panel.version = next(self._versions)
        self._emit(
            PanelPatched(
                panel=info.id,
                base=base,
                version=panel.version,
                patches=encode(patches),
                error=error,
            )
        )


def _reason(e: BaseException) -> str:
    message = str(e).strip()
    return f"{type(e).__name__}: {message}" if message else type(e).__name__
