"""The virtual DOM of motif panels: building, checking, diffing, applying, events, the wire.

Properties over random trees are in ``test_vdom_properties.py``; these are the cases a motif
author or a renderer would notice, each spelled out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from symphony_sdk.vdom import (
    ELEMENTS,
    Element,
    Insert,
    Mirror,
    Move,
    PatchError,
    Remove,
    Replace,
    SetProps,
    SetText,
    UiEvent,
    VDomError,
    apply,
    apply_to,
    decode_event,
    decode_patches,
    decode_tree,
    describe,
    diff,
    encode,
    h,
    resolve,
    validate,
    validate_event,
)
from symphony_sdk.vdom.checks import MAX_DEPTH
from symphony_sdk.vdom.reconcile import longest_increasing_subsequence

ROOT = Path(__file__).resolve().parents[2]


def rows(*keys: str, **cells: list[object]) -> Element:
    """A table with one row per key; ``cells`` overrides a row's cells by key."""
    return h(
        "table",
        [h("row", key=k, cells=cells.get(k, [k])) for k in keys],
        key="tests",
    )


def panel(*children: Element) -> Element:
    return h("vertical", *children, key="root")


def check(old: Element, new: Element) -> list[object]:
    """The diff of old and new, after checking it applies to both a tree and a mirror."""
    patches = diff(old, new)
    assert apply(old, patches) == new
    mirror = Mirror(old)
    apply_to(mirror, patches)
    assert mirror.to_element() == new
    return list(patches)


def problems(excinfo: pytest.ExceptionInfo[VDomError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


# -- building and checking ---------------------------------------------------------------


def test_h_builds_elements_splicing_lists_and_skipping_none() -> None:
    failed = 0
    tree = h(
        "vertical",
        h("label", "3 passed", key="summary", tone="success"),
        h("label", f"{failed} failed", tone="error") if failed else None,
        [h("button", key="a", label="A"), None, h("button", key="b", label="B")],
    )
    assert tree == Element(
        type="vertical",
        children=(
            Element(type="label", key="summary", props={"tone": "success"}, children=("3 passed",)),
            Element(type="button", key="a", props={"label": "A"}),
            Element(type="button", key="b", props={"label": "B"}),
        ),
    )
    assert validate(tree) is tree


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: h("blink"), "blink: unknown element type 'blink'"),
        (
            lambda: h("button", key="ok", colour="red"),
            "button[ok]: unknown prop 'colour' for button (known: label, variant, disabled)",
        ),
        (
            lambda: h("button", variant="huge"),
            "button: prop 'variant' must be one of 'default', 'primary', 'success', 'warning',"
            " 'error', got str 'huge'",
        ),
        (lambda: h("checkbox", value="yes"), "prop 'value' must be a boolean, got str 'yes'"),
        (lambda: h("progress", progress=True), "prop 'progress' must be a number, got bool"),
        (lambda: h("label", tone={1, 2}), "prop 'tone' is not JSON: set is not a JSON type"),
        (lambda: h("row", cells=(1, 2)), "prop 'cells' is not JSON: a tuple (use a list)"),
        (lambda: h("row", cells=[float("nan")]), "prop 'cells' is not JSON: [0]: nan is not"),
        (lambda: h("row", cells=[2**64]), "prop 'cells' is not JSON: [0]: an integer beyond"),
        (lambda: h("button", "OK"), "button/text#0: button takes no text; put text in a label"),
        (lambda: h("vertical", h("row")), "vertical/row#0: row cannot be a child of vertical"),
        (lambda: h("table", h("label")), "table/label#0: label cannot be a child of table"),
        (lambda: h("button", h("label")), "label cannot be a child of button (allowed: nothing)"),
        (lambda: h("label", key=""), "key must be a non-empty string, got ''"),
    ],
)
def test_h_refuses_an_invalid_element_naming_it(build: object, message: str) -> None:
    with pytest.raises(VDomError) as excinfo:
        build()  # type: ignore[operator]
    assert message in str(excinfo.value)


def test_duplicate_sibling_keys_are_refused() -> None:
    with pytest.raises(VDomError) as excinfo:
        h("vertical", h("button", key="ok"), h("label", key="ok"))
    assert problems(excinfo) == ["vertical/label[ok]: duplicate key 'ok' (child 0 has it)"]
    # The same key in different parents is fine.
    validate(h("vertical", h("vertical", h("button", key="ok")), h("button", key="ok")))


def test_validate_names_every_problem_with_its_path_in_the_tree() -> None:
    bad_button = Element(type="button", key="ok", props={"label": 3, "on_press": "ok"})
    tree = Element(
        type="vertical",
        children=(
            Element(type="vertical", key="summary", children=(bad_button, "loose text")),
            Element(type="slider"),
        ),
    )
    with pytest.raises(VDomError) as excinfo:
        validate(tree)
    assert problems(excinfo) == [
        "root/vertical[summary]/text#1: vertical takes no text; put text in a label",
        "root/vertical[summary]/button[ok]: prop 'label' must be a string, got int 3",
        "root/vertical[summary]/button[ok]: unknown prop 'on_press' for button"
        " (known: label, variant, disabled)",
        f"root/slider#1: unknown element type 'slider' (known: {', '.join(ELEMENTS)})",
    ]
    assert excinfo.value.code == "motif.invalid"


def test_validate_refuses_what_is_not_a_tree() -> None:
    with pytest.raises(VDomError, match="root: not an element: dict"):
        validate({"type": "vertical"})
    listed = Element(type="vertical", children=[Element(type="label")])  # type: ignore[arg-type]
    with pytest.raises(VDomError, match="children must be a tuple, got list"):
        validate(listed)
    with pytest.raises(VDomError, match="child 0 is not an element or text: int 7"):
        validate(Element(type="vertical", children=(7,)))  # type: ignore[arg-type]


def test_validate_refuses_a_tree_deeper_than_the_limit_without_recursing() -> None:
    tree = h("label")
    for _ in range(MAX_DEPTH * 50):  # far beyond Python's recursion limit
        tree = Element(type="vertical", children=(tree,))
    with pytest.raises(VDomError, match=f"deeper than {MAX_DEPTH} levels"):
        validate(tree)


def test_every_element_type_takes_its_props_defaults() -> None:
    for spec in ELEMENTS.values():
        validate(Element(type=spec.name, props={n: p.default for n, p in spec.props.items()}))


# -- diff: props, text, replace ------------------------------------------------------------


def test_diff_of_equal_trees_is_empty() -> None:
    tree = panel(rows("a", "b"), h("label", "x", key="l"))
    assert diff(tree, tree) == []
    assert diff(tree, decode_tree(encode(tree))) == []


def test_prop_changes_send_only_changed_and_removed_props() -> None:
    old = panel(h("button", key="ok", label="OK", variant="primary", disabled=True))
    new = panel(h("button", key="ok", label="Done", disabled=True))
    assert check(old, new) == [
        SetProps(path=("ok",), props={"label": "Done"}, removed=("variant",))
    ]


def test_props_that_python_calls_equal_but_show_differently_are_changes() -> None:
    old = panel(rows("a", a=[1, 0.0, 1]))
    new = panel(rows("a", a=[True, -0.0, 1.0]))
    patches = check(old, new)
    assert patches == [SetProps(path=("tests", "a"), props={"cells": [True, -0.0, 1.0]})]


def test_text_changes_are_set_text_at_the_text_node() -> None:
    old = panel(h("label", "3 passed", ", ", "1 failed", key="summary"))
    new = panel(h("label", "4 passed", ", ", "1 failed", key="summary"))
    assert check(old, new) == [SetText(path=("summary", 0), text="4 passed")]


def test_a_type_change_replaces_the_child() -> None:
    old = panel(h("label", "busy", key="status"), h("button", key="go"))
    new = panel(h("progress", key="status", progress=3, total=10), h("button", key="go"))
    assert check(old, new) == [Replace(path=("status",), node=new.children[0])]


def test_text_becoming_an_element_at_the_same_position_is_replaced() -> None:
    old = h("markdown", "# hi")
    assert diff(old, h("markdown", "# ho")) == [SetText(path=(0,), text="# ho")]
    old_panel = panel(h("vertical", h("label", "a")))
    new_panel = panel(h("vertical", h("markdown", "a")))
    assert check(old_panel, new_panel) == [Replace(path=(0, 0), node=h("markdown", "a"))]


@pytest.mark.parametrize(
    "new",
    [h("horizontal", key="root"), h("vertical", key="other"), h("vertical")],
    ids=["type", "key", "key removed"],
)
def test_a_root_whose_type_or_key_changes_is_replaced_whole(new: Element) -> None:
    old = panel(h("label", "x"))
    assert check(old, new) == [Replace(path=(), node=new)]


# -- diff: keyed and unkeyed children ------------------------------------------------------


def test_keyed_inserts_at_the_start_middle_and_end() -> None:
    old = panel(rows("b", "d"))
    new = panel(rows("a", "b", "c", "d", "e"))
    patches = check(old, new)
    assert patches == [
        Insert(path=("tests",), index=2, node=h("row", key="e", cells=["e"])),
        Insert(path=("tests",), index=1, node=h("row", key="c", cells=["c"])),
        Insert(path=("tests",), index=0, node=h("row", key="a", cells=["a"])),
    ]


def test_keyed_removals_go_from_the_highest_index_down() -> None:
    old = panel(rows("a", "b", "c", "d", "e"))
    new = panel(rows("b", "d"))
    assert check(old, new) == [
        Remove(path=("tests",), index=4),
        Remove(path=("tests",), index=2),
        Remove(path=("tests",), index=0),
    ]


def test_moving_one_row_is_one_move() -> None:
    old = panel(rows("a", "b", "c", "d", "e"))
    assert check(old, panel(rows("b", "c", "d", "e", "a"))) == [
        Move(path=("tests",), from_index=0, to_index=4)
    ]
    assert check(old, panel(rows("e", "a", "b", "c", "d"))) == [
        Move(path=("tests",), from_index=4, to_index=0)
    ]


def test_reversing_n_rows_takes_n_minus_one_moves() -> None:
    keys = [f"k{i}" for i in range(8)]
    patches = check(panel(rows(*keys)), panel(rows(*reversed(keys))))
    assert len(patches) == 7
    assert all(isinstance(p, Move) for p in patches)


def test_moved_rows_keep_their_node_and_get_their_prop_changes() -> None:
    old = panel(rows("a", "b", "c"))
    new = panel(rows("c", "a", "b", c=["C"]))
    mirror = Mirror(old)
    before = {n.key: n for n in mirror.root().walk() if n.type == "row"}
    patches = diff(old, new)
    assert patches == [
        SetProps(path=("tests", "c"), props={"cells": ["C"]}),
        Move(path=("tests",), from_index=2, to_index=0),
    ]
    apply_to(mirror, patches)
    after = {n.key: n for n in mirror.root().walk() if n.type == "row"}
    assert all(after[k] is before[k] for k in "abc")
    assert mirror.to_element() == new


def test_mixed_moves_inserts_and_removals() -> None:
    old = panel(rows("a", "b", "c", "d", "e", "f"))
    new = panel(rows("f", "b", "c", "x", "a", "e"))
    patches = check(old, new)
    kinds = [type(p).__name__ for p in patches]
    assert kinds.count("Remove") == 1  # d
    assert kinds.count("Insert") == 1  # x
    assert kinds.count("Move") == 2  # b, c, e stay; f and a move


def test_unkeyed_children_are_matched_by_position() -> None:
    old = panel(h("label", "one"), h("label", "two"))
    assert check(old, panel(h("label", "one"), h("label", "2"), h("label", "three"))) == [
        SetText(path=(1, 0), text="2"),
        Insert(path=(), index=2, node=h("label", "three")),
    ]
    assert check(old, panel(h("label", "one"))) == [Remove(path=(), index=1)]


def test_a_keyed_child_added_before_unkeyed_ones_does_not_disturb_them() -> None:
    old = panel(h("label", "one"), h("label", "two"))
    new = panel(h("button", key="new"), h("label", "one"), h("label", "two"))
    assert check(old, new) == [Insert(path=(), index=0, node=h("button", key="new"))]


def test_patches_inside_a_parent_address_children_by_their_old_positions() -> None:
    # Both unkeyed labels change while a keyed sibling in front of them is removed: the
    # SetText paths must use the positions before the removal.
    old = panel(h("button", key="x"), h("label", "a"), h("label", "b"))
    new = panel(h("label", "A"), h("label", "B"))
    assert check(old, new) == [
        SetText(path=(1, 0), text="A"),
        SetText(path=(2, 0), text="B"),
        Remove(path=(), index=0),
    ]


def test_diff_refuses_duplicate_keys_it_cannot_match() -> None:
    good = panel(rows("a", "b"))
    bad = Element(
        type="vertical",
        key="root",
        children=(
            Element(type="table", key="tests", children=(h("row", key="a"), h("row", key="a"))),
        ),
    )
    with pytest.raises(VDomError, match=r"root/table\[tests\]: duplicate keys"):
        diff(good, bad)


def test_longest_increasing_subsequence() -> None:
    assert longest_increasing_subsequence([]) == set()
    assert longest_increasing_subsequence([0, 1, 2]) == {0, 1, 2}
    assert longest_increasing_subsequence([2, 1, 0]) in ({0}, {1}, {2})
    assert longest_increasing_subsequence([5, 1, -1, 2, 0, 4]) == {1, 3, 5}


# -- applying patches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (SetProps(path=("nope",), props={}), "root: has no child 'nope'"),
        (SetProps(path=(5,), props={}), "root: has no child 5"),
        (SetText(path=("summary",), text="x"), "root/label[summary]: set_text needs a text node"),
        (SetProps(path=("summary", 0), props={}), "label[summary]/text#0: set_props needs an"),
        (Remove(path=(), index=2), "root: index 2 is out of range for 2 children"),
        (Move(path=(), from_index=0, to_index=2), "index 2 is out of range for 2 children"),
        (Insert(path=(), index=3, node="x"), "index 3 is out of range for 2 children"),
        (
            Insert(path=(), index=0, node=h("button", key="ok")),
            "root: a child with key 'ok' is already there",
        ),
        (Replace(path=(), node="text"), "root: the root must be an element"),
    ],
)
def test_a_patch_that_does_not_fit_is_refused_by_apply_and_by_the_mirror(
    patch: object, message: str
) -> None:
    tree = panel(h("label", "3 passed", key="summary"), h("button", key="ok"))
    with pytest.raises(PatchError) as excinfo:
        apply(tree, [patch])  # type: ignore[list-item]
    assert message in str(excinfo.value)
    mirror = Mirror(tree)
    with pytest.raises(PatchError) as excinfo:
        apply_to(mirror, [patch])  # type: ignore[list-item]
    assert message in str(excinfo.value)
    assert mirror.to_element() == tree  # nothing half-done


def test_inserting_at_the_end_is_allowed() -> None:
    tree = panel(h("label", "a"))
    assert apply(tree, [Insert(path=(), index=1, node=h("label", "b"))]) == panel(
        h("label", "a"), h("label", "b")
    )


def test_mirror_nodes_know_their_path_and_location() -> None:
    mirror = Mirror(panel(h("vertical", h("label", "x"), h("button", key="ok"), key="summary")))
    button = mirror.child(mirror.child(mirror.root(), "summary"), "ok")
    assert button.path() == ("summary", "ok")
    assert button.location() == "root/vertical[summary]/button[ok]"
    text = mirror.child(mirror.child(mirror.child(mirror.root(), "summary"), 0), 0)
    assert text.path() == ("summary", 0, 0)
    assert text.location() == "root/vertical[summary]/label#0/text#0"


def test_replace_mounts_new_nodes_and_unmounts_the_old() -> None:
    old = panel(h("label", "busy", key="status"))
    mirror = Mirror(old)
    before = mirror.child(mirror.root(), "status")
    apply_to(mirror, diff(old, panel(h("progress", key="status"))))
    after = mirror.child(mirror.root(), "status")
    assert after is not before and after.type == "progress" and before.parent is None


def test_resolve_and_describe_paths() -> None:
    tree = panel(h("vertical", h("label", "x"), h("button", key="ok"), key="summary"))
    assert resolve(tree, ("summary", "ok")) == h("button", key="ok")
    assert resolve(tree, ("summary", 0, 0)) == "x"
    assert resolve(tree, ()) is tree
    assert describe(tree, ("summary", "ok")) == "root/vertical[summary]/button[ok]"
    assert describe(tree, ("summary", "gone", 1)) == "root/vertical[summary]/'gone'/1"


# -- events --------------------------------------------------------------------------------


def form() -> Element:
    return panel(
        h("input", key="name", value=""),
        h("checkbox", key="fast", label="Fast"),
        h("select", key="suite", options=["unit", "e2e"]),
        h("button", key="run", label="Run"),
        rows("t1", "t2"),
    )


@pytest.mark.parametrize(
    "event",
    [
        UiEvent(path=("run",), kind="press"),
        UiEvent(path=("name",), kind="change", value="ab"),
        UiEvent(path=("name",), kind="submit", value="ab"),
        UiEvent(path=("fast",), kind="change", value=True),
        UiEvent(path=("suite",), kind="select", value="e2e"),
        UiEvent(path=("suite",), kind="select", value=None),
        UiEvent(path=("tests", "t2"), kind="select"),
    ],
)
def test_events_the_elements_send_are_valid_and_survive_the_wire(event: UiEvent) -> None:
    element = validate_event(form(), event)
    assert element.key == event.key
    assert decode_event(encode(event)) == event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (UiEvent(path=("gone",), kind="press"), "root: has no child 'gone'"),
        (UiEvent(path=("run",), kind="change", value="x"), "root/button[run]: button sends no"),
        (
            UiEvent(path=("fast",), kind="change", value="yes"),
            "root/checkbox[fast]: the value of a 'change' event must be a boolean, got str",
        ),
        (UiEvent(path=("name",), kind="submit"), "must be a string, got NoneType"),
        (UiEvent(path=(), kind="press"), "root: vertical sends no 'press' events"),
    ],
)
def test_events_that_do_not_fit_the_tree_are_refused(event: UiEvent, message: str) -> None:
    with pytest.raises(VDomError) as excinfo:
        validate_event(form(), event)
    assert message in str(excinfo.value)


def test_an_event_of_an_unknown_kind_does_not_decode() -> None:
    data = msgspec.msgpack.encode({"path": ["run"], "kind": "hover"})
    with pytest.raises(VDomError, match="root: not an event: Invalid enum value 'hover'"):
        decode_event(data)


# -- the wire ------------------------------------------------------------------------------


def test_trees_and_patches_round_trip_through_msgpack() -> None:
    old, new = form(), panel(rows("t2", "t3", t2=[None, 1.5, True]), h("button", key="run"))
    assert decode_tree(encode(old)) == old
    patches = diff(old, new)
    assert decode_patches(encode(patches)) == patches
    assert apply(old, decode_patches(encode(patches))) == new


def test_decoding_tolerates_unknown_fields_and_refuses_bad_trees() -> None:
    data = msgspec.msgpack.encode({"type": "label", "children": ["x"], "since": "v2"})
    assert decode_tree(data) == h("label", "x")
    with pytest.raises(VDomError, match="root: not a tree"):
        decode_tree(b"\x93garbage")
    with pytest.raises(VDomError, match="root/button#0: unknown prop 'x'"):
        decode_tree(msgspec.msgpack.encode({"type": "vertical", "children": [
            {"type": "button", "props": {"x": 1}}
        ]}))  # fmt: skip
    bad_insert = [{"op": "insert", "path": [], "index": 0, "node": {"type": "blink"}}]
    with pytest.raises(VDomError, match="unknown element type 'blink'"):
        decode_patches(msgspec.msgpack.encode(bad_insert))


def test_decoding_a_hostile_deep_tree_fails_cleanly() -> None:
    data = b"\x81\xa8children\x91" * 100_000 + b"\x80"
    with pytest.raises(VDomError):
        decode_tree(data)


# -- boundaries and docs -------------------------------------------------------------------


def test_the_vdom_imports_neither_textual_nor_the_engine() -> None:
    code = (
        "import sys, symphony_sdk.vdom\n"
        "print(','.join(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('textual', 'symphony_tui', 'engine'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["engine,engine.types,engine.types.errors"]


def test_motifs_page_documents_every_element_type_with_its_props_and_events() -> None:
    page = (ROOT / "docs" / "motifs.md").read_text(encoding="utf-8")
    documented: dict[str, tuple[set[str], set[str]]] = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[a-z]+`", cells[0]):
            props = set(re.findall(r"`([a-z_]+)`", cells[3]))
            events = set(re.findall(r"`(press|change|select|submit)`", cells[4]))
            documented[cells[0].strip("`")] = (props, events)
    real = {name: (set(s.props), set(s.events)) for name, s in ELEMENTS.items()}
    assert documented == real
