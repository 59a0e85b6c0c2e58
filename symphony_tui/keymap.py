"""Remappable keys: the catalogue of bindings, ``ide.keymap`` checked against it, and the rows
of the F1 help screen.

Every binding a user may want to change has an ``id`` (Textual's keymap key). ``ide.keymap``
maps ids to keys (``save = "ctrl+s,f12"``); Textual applies it wherever the binding is in
effect, so the footer and the help screen show the keys that work. Entries naming no known id,
or taking a key another action of the same place already has, are refused with a message that
names the entry and says why; the rest of the keymap applies.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.keys import _normalize_key_list

if TYPE_CHECKING:
    from collections.abc import Mapping

    from textual.dom import DOMNode

__all__ = ["KeyRow", "check_keymap", "key_rows", "keys_for", "scopes"]


@dataclass(frozen=True)
class KeyRow:
    """One line of the help screen."""

    scope: str
    keys: tuple[str, ...]
    description: str
    #: The id to use in ``ide.keymap``; None for keys that cannot be changed.
    id: str | None


@dataclass(frozen=True)
class _Entry:
    """One binding of a place, its keys gathered (Textual stores one binding per key)."""

    action: str
    description: str
    id: str | None
    keys: tuple[str, ...]
    #: Checked before any focused widget's keys (so it wins everywhere).
    priority: bool = False


#: Plain cursor movement; the help screen leaves it out.
_MOVEMENT = ("cursor_", "page_", "scroll_")


def scopes() -> list[tuple[str, type[DOMNode]]]:
    """Where bindings live, in the order the help screen lists them."""
    from symphony_tui.app import SymphonyApp
    from symphony_tui.board.canvas import BoardCanvas
    from symphony_tui.screens.main import MainScreen
    from symphony_tui.screens.review import ReviewScreen
    from symphony_tui.views.artifacts import ArtifactsView
    from symphony_tui.views.board import BoardView
    from symphony_tui.views.chat import ChatPanel
    from symphony_tui.views.conductor import ConductorPanel
    from symphony_tui.views.extensions import ExtensionsView, InstallReviewScreen
    from symphony_tui.views.runs import RunsView
    from symphony_tui.widgets.editor import CodeArea, FindBar
    from symphony_tui.widgets.feedback import ProgressScreen
    from symphony_tui.widgets.terminal import Terminal

    return [
        ("Everywhere", SymphonyApp),
        ("Workspace", MainScreen),
        ("Editor", CodeArea),
        ("Find bar", FindBar),
        ("Terminal", Terminal),
        ("Harmony Board", BoardView),
        ("Board navigation", BoardCanvas),
        ("Runs", RunsView),
        ("Conductor", ConductorPanel),
        ("Chat", ChatPanel),
        ("Change review", ReviewScreen),
        ("Artifacts", ArtifactsView),
        ("Extensions", ExtensionsView),
        ("Install review", InstallReviewScreen),
        ("Progress", ProgressScreen),
    ]


def _bindings(node: type[DOMNode]) -> list[_Entry]:
    """The bindings in effect on ``node`` (its own and inherited, overrides applied)."""
    grouped: dict[tuple[str, str, str | None, bool], list[str]] = {}
    for key, bindings in node._merge_bindings().key_to_bindings.items():
        for b in bindings:
            if b.system or b.action.startswith(_MOVEMENT):
                continue
            description = b.tooltip or b.description
            if description or b.id:
                grouped.setdefault((b.action, description, b.id, b.priority), []).append(key)
    return [_Entry(a, d, i, tuple(keys), p) for (a, d, i, p), keys in grouped.items()]


def _keys(entry: _Entry, keymap: Mapping[str, str]) -> tuple[str, ...]:
    if entry.id and entry.id in keymap:
        return tuple(_normalize_key_list(keymap[entry.id]).split(","))
    return entry.keys


def keys_for(binding_id: str, keymap: Mapping[str, str]) -> tuple[str, ...]:
    """The keys of the binding ``binding_id`` under ``keymap`` (empty if there is none)."""
    for _scope, node in scopes():
        for binding in _bindings(node):
            if binding.id == binding_id:
                return _keys(binding, keymap)
    return ()


def key_rows(keymap: Mapping[str, str]) -> list[KeyRow]:
    """Every binding with the keys it has under ``keymap``; one row per id and place."""
    rows: list[KeyRow] = []
    for scope, node in scopes():
        for entry in _bindings(node):
            rows.append(KeyRow(scope, _keys(entry, keymap), entry.description, entry.id))
    return rows


def check_keymap(keymap: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split ``keymap`` into the entries to apply and a message for each refused one."""
    known = {b.id for _scope, node in scopes() for b in _bindings(node) if b.id}
    valid: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"ide.keymap.{binding_id}: no action has this id{hint}; F1 lists them")
            continue
        valid[binding_id] = _normalize_key_list(keys)
    for binding_id, clash in _clashes(valid):
        del valid[binding_id]
        problems.append(f"ide.keymap.{binding_id}: {clash}; this entry is ignored")
    return valid, problems


def _clashes(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """Keymap entries whose keys another action of the same place already has."""
    found: dict[str, str] = {}
    places = scopes()
    # Priority keys (the app's quit and palette keys) win in every place.
    first = places[0][1]
    everywhere = [e for e in _bindings(first) if e.priority]
    for scope, node in places:
        entries = _bindings(node)
        if node is not first:
            entries += everywhere
        for binding_id in keymap:
            clash = None if binding_id in found else _clash_in(entries, binding_id, keymap)
            if clash:
                found[binding_id] = f"{clash} in {scope}"
    return list(found.items())


def _clash_in(entries: list[_Entry], binding_id: str, keymap: Mapping[str, str]) -> str | None:
    mine = next((e for e in entries if e.id == binding_id), None)
    if mine is None:
        return None
    wanted = set(_keys(mine, keymap))
    for other in entries:
        if other.id == binding_id or other.action == mine.action:
            continue
        taken = wanted & set(_keys(other, keymap))
        if taken:
            return f"{min(taken)} is already the key of {other.id or other.description!r}"
    return None
