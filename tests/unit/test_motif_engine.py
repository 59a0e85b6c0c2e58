"""Motif panels on the engine's side: a real Engine on a temporary workspace, real motifs.

Panels are opened, events sent and patches received over the engine's bus exactly as the TUI
does; one motif runs in its own host process.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from engine.extensions.motif_messages import (
    ClosePanel,
    ListPanels,
    OpenPanel,
    PanelEvent,
    PanelOpened,
    PanelPatched,
)
from engine.runtime import Engine
from engine.types.errors import RemoteError
from symphony_sdk.vdom import Element, UiEvent, apply, decode_patches, decode_tree, encode, h

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from engine.types.messages import Envelope

COUNTER = """
import threading

from symphony_sdk import Motif
from symphony_sdk.vdom import Element, h


class Counter(Motif):
    def __init__(self):
        self.count = 0
        self.broken = False
        self.ctx = None

    def activate(self, ctx):
        self.ctx = ctx

    def render(self, panel):
        if panel == "{ext}.bad" or self.broken:
            # Built without h(), so only the engine's check sees the bad prop.
            return Element(type="vertical", key="root", children=(
                Element(type="horizontal", key="top", children=(
                    Element(type="button", key="ok", props={{"colour": "red"}}),
                )),
            ))
        return h(
            "vertical",
            h("label", f"{{self.count}} clicks", key="count"),
            h("button", key="add", label="Add"),
            h("button", key="later", label="Add later"),
            h("button", key="break", label="Break"),
            h("table", [h("row", key=f"r{{i}}", cells=[i]) for i in range(self.count)],
              key="rows", columns=["n"]),
            key="root",
        )

    def on_event(self, panel, event):
        if event.key == "add":
            self.count += 1
        elif event.key == "break":
            self.broken = True
        elif event.key == "later":
            def bump():
                self.count += 10
                self.refresh(panel)
            threading.Timer(0.05, bump).start()
"""


def write_counter(root: Path, ext_id: str, isolation: str) -> None:
    module = f"counter_{uuid.uuid4().hex[:8]}"
    folder = root / ext_id
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(
        textwrap.dedent(COUNTER.format(ext=ext_id)), encoding="utf-8"
    )
    (folder / "symphony-extension.toml").write_text(
        textwrap.dedent(
            f"""
            [extension]
            id = "{ext_id}"
            name = "Counter {ext_id}"
            version = "1.0.0"
            type = "motif"
            entry = "{module}:Counter"

            [runtime]
            isolation = "{isolation}"

            [[contributes.panels]]
            id = "{ext_id}.main"
            title = "Counter {ext_id}"

            [[contributes.panels]]
            id = "{ext_id}.bad"
            title = "Bad {ext_id}"
            """
        ),
        encoding="utf-8",
    )


class Panels:
    """An engine with the counter motif (in-process ``local``, hosted ``hosted``), collecting
    ``PanelPatched`` events and keeping each open panel's tree as a view would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.patched: list[PanelPatched] = []
        self.arrived = threading.Condition()
        self.trees: dict[str, tuple[int, Element]] = {}
        engine.subscribe(self._on_event, "evt.PanelPatched")

    def _on_event(self, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, PanelPatched)
        with self.arrived:
            self.patched.append(event)
            version, tree = self.trees.get(event.panel, (None, None))
            if version == event.base and tree is not None:
                self.trees[event.panel] = (
                    event.version,
                    apply(tree, decode_patches(event.patches)),
                )
            self.arrived.notify_all()

    def open(self, panel: str) -> PanelOpened:
        reply = self.engine.send(OpenPanel(panel=panel), timeout=60)
        assert isinstance(reply, PanelOpened)
        with self.arrived:
            self.trees[panel] = (reply.version, decode_tree(reply.tree))
        return reply

    def press(self, panel: str, *path: str) -> None:
        event = UiEvent(path=path, kind="press")
        self.engine.send(PanelEvent(panel=panel, event=encode(event)), timeout=60)

    def wait_tree(self, panel: str, label: str, timeout: float = 10.0) -> Element:
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.label(panel) == label, timeout), (
                f"{panel} shows {self.label(panel)!r}, not {label!r}"
            )
            return self.trees[panel][1]

    def label(self, panel: str) -> str | None:
        tree = self.trees[panel][1]
        first = tree.children[0]
        return str(first.children[0]) if isinstance(first, Element) else None


@pytest.fixture
def panels(tmp_path: Path) -> Iterator[Panels]:
    exts = tmp_path / "exts"
    write_counter(exts, "local", "in-process")
    write_counter(exts, "hosted", "process")
    ws = tmp_path / "ws"
    ws.mkdir()
    engine = Engine(
        ws, watch_config=False, overrides=[f"extensions.dirs=[{json.dumps(str(exts))}]"]
    )
    engine.start()
    try:
        yield Panels(engine)
    finally:
        engine.stop()


def test_list_panels_names_each_panel_and_its_motif(panels: Panels) -> None:
    reply: Any = panels.engine.send(ListPanels())
    found = {(p.id, p.title, p.extension) for p in reply.panels}
    assert ("local.main", "Counter local", "local") in found
    assert ("hosted.bad", "Bad hosted", "hosted") in found
    assert ("symphony.test-dashboard", "Tests", "symphony.test-dashboard") in found


@pytest.mark.parametrize("ext", ["local", "hosted"])
def test_open_event_and_patches(panels: Panels, ext: str) -> None:
    panel = f"{ext}.main"
    opened = panels.open(panel)
    assert opened.extension == ext and not opened.error
    assert panels.label(panel) == "0 clicks"
    if ext == "hosted":  # really in a host process of its own
        from engine.extensions.host import HostedExtension

        hosted = panels.engine.extensions.active_instance(ext)
        assert isinstance(hosted, HostedExtension)
        assert hosted.pid is not None and hosted.pid != os.getpid()

    panels.press(panel, "add")
    tree = panels.wait_tree(panel, "1 clicks")
    event = panels.patched[-1]
    assert event.base == opened.version and event.version > opened.version
    # Only what changed travels: the label's text and the one new row.
    ops = [(type(p).__name__, p.path) for p in decode_patches(event.patches)]
    assert sorted(ops) == [("Insert", ("rows",)), ("SetText", ("count", 0))]
    rows = tree.children[4]
    assert isinstance(rows, Element) and [r.key for r in rows.children] == ["r0"]  # type: ignore[union-attr]

    # refresh() from a thread of the motif's own re-renders the panel.
    panels.press(panel, "later")
    panels.wait_tree(panel, "11 clicks")

    # A second view gets the same tree; the panel stays open until both close.
    second = panels.open(panel)
    assert decode_tree(second.tree) == panels.trees[panel][1]
    panels.engine.send(ClosePanel(panel=panel))
    panels.press(panel, "add")
    panels.wait_tree(panel, "12 clicks")
    panels.engine.send(ClosePanel(panel=panel))
    with pytest.raises(RemoteError, match="is not open"):
        panels.press(panel, "add")


@pytest.mark.parametrize("ext", ["local", "hosted"])
def test_an_invalid_tree_is_reported_with_its_path_and_shown_in_the_panel(
    panels: Panels, ext: str
) -> None:
    opened = panels.open(f"{ext}.bad")
    assert f"panel {ext}.bad of {ext}" in opened.error
    assert "root/horizontal[top]/button[ok]: unknown prop 'colour' for button" in opened.error
    tree = decode_tree(opened.tree)
    assert tree.key == "symphony-error"
    assert "root/horizontal[top]/button[ok]" in str(tree.children[1].children[0])  # type: ignore[union-attr]

    # A panel that breaks later gets the error tree as patches, with the reason.
    panels.open(f"{ext}.main")
    panels.press(f"{ext}.main", "break")
    with panels.arrived:
        assert panels.arrived.wait_for(lambda: any(e.error for e in panels.patched), 10)
    event = next(e for e in panels.patched if e.error)
    assert "button[ok]: unknown prop 'colour'" in event.error
    assert panels.trees[f"{ext}.main"][1].key == "symphony-error"


def test_unknown_panels_and_stale_events_are_refused(panels: Panels) -> None:
    with pytest.raises(RemoteError, match=r"no enabled motif contributes panel 'local\.mian'"):
        panels.engine.send(OpenPanel(panel="local.mian"))
    panels.open("local.main")
    with pytest.raises(RemoteError, match=r"gone"):
        panels.press("local.main", "gone")


def test_error_tree_helper_is_a_valid_tree() -> None:
    from engine.extensions.motifs import error_tree

    tree = error_tree("Tests", "x" * 10_000)
    assert tree.key == "symphony-error"
    assert len(str(tree.children[1].children[0])) < 4100  # type: ignore[union-attr]
    assert h("vertical", tree)  # it nests like any element
