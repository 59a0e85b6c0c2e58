"""Properties of the keyed diff over random trees (hypothesis).

1. ``apply(a, diff(a, b))`` is exactly ``b`` (compared strictly: ``1``, ``1.0`` and ``True``
   differ), and so is a mirror of ``a`` after ``apply_to`` -- with its parent links and key
   indexes intact.
2. ``diff(a, a)`` is empty, also for an equal copy; a prop patch holds exactly the props that
   changed (as shown, so ``1`` -> ``True`` is a change) or were removed.
3. Nodes that stay (same key, or same place among unkeyed siblings, and same type) keep their
   identity in the mirror: moved or updated, never re-created.
4. Reordering keyed children costs exactly (children kept - longest increasing subsequence)
   moves, and no other patch when nothing else changed.
5. Patches survive the wire: decoded patches apply like the originals.

Trees ``b`` are either drawn independently of ``a`` (same small key alphabet, so keys meet) or
made from ``a`` by random edits (props, text, types, insertions, removals, reorderings).
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony_sdk.vdom import (
    ELEMENTS,
    Element,
    Mirror,
    MirrorNode,
    Move,
    apply,
    apply_to,
    decode_patches,
    diff,
    encode,
    validate,
)

SETTINGS = settings(max_examples=150, deadline=None, database=None)

CONTAINERS = ["vertical", "horizontal", "scroll"]
TEXTUAL = ["label", "markdown"]
LEAVES = ["button", "input", "checkbox", "select", "progress"]
KEYS = st.one_of(st.none(), st.sampled_from("abcdefg"))
#: Candidate prop values; each prop draws from those its type accepts. Includes values Python
#: calls equal (1, 1.0, True; 0.0, -0.0) to catch a diff that compares with ``==``.
VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, 0.0, -0.0, 2.5, "", "a", "b", "OK",
    "default", "primary", "muted", "error", "success",
    [], ["a"], ["a", "b"], [1, "x", None], [True], [1.0], [1],
]  # fmt: skip


def strict(tree: Element) -> bytes:
    """A canonical encoding that tells apart every value a renderer would show differently."""
    return msgspec.json.encode(tree, order="sorted")


@st.composite
def props_for(draw: st.DrawFn, element_type: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, spec in ELEMENTS[element_type].props.items():
        choices = [v for v in VALUES if spec.type.test(v)]
        if choices and draw(st.booleans()):
            props[name] = draw(st.sampled_from(choices))
    return props


def unique_keys(children: list[Element]) -> tuple[Element, ...]:
    """Children with a repeated key made unkeyed, so siblings' keys are unique."""
    seen: set[str] = set()
    out = []
    for child in children:
        if child.key is not None and child.key in seen:
            child = msgspec.structs.replace(child, key=None)
        seen.add(child.key or "")
        out.append(child)
    return tuple(out)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0, kinds: list[str] | None = None) -> Element:
    kinds = kinds or (CONTAINERS + TEXTUAL + LEAVES + ["table"] if depth < 3 else LEAVES)
    element_type = draw(st.sampled_from(kinds))
    children: tuple[Element | str, ...] = ()
    if element_type in CONTAINERS:
        least = 2 if depth == 0 else 0
        children = unique_keys(draw(st.lists(elements(depth + 1), min_size=least, max_size=6)))
    elif element_type in TEXTUAL:
        children = tuple(draw(st.lists(st.sampled_from(["x", "y", "zz", ""]), max_size=3)))
    elif element_type == "table":
        children = unique_keys(draw(st.lists(elements(depth + 1, ["row"]), max_size=7)))
    return Element(
        type=element_type,
        key=draw(KEYS if depth else st.sampled_from([None, None, None, "root"])),
        props=draw(props_for(element_type)),
        children=children,
    )


def roots() -> st.SearchStrategy[Element]:
    return elements(0, ["vertical", "vertical", "vertical", "horizontal"])


@st.composite
def edited(draw: st.DrawFn, node: Element, depth: int = 0) -> Element:
    """``node`` after random edits of its props, children and (rarely) type."""
    if depth and node.type != "row" and draw(st.integers(0, 19)) == 0:  # a different element
        return draw(elements(depth, CONTAINERS + LEAVES))
    props = draw(props_for(node.type)) if draw(st.booleans()) else node.props
    children: list[Any] = []
    for child in node.children:
        if draw(st.integers(0, 5)) == 0:
            continue  # removed
        if isinstance(child, str):
            children.append(draw(st.sampled_from([child, child, "x", "new"])))
        else:
            children.append(draw(edited(child, depth + 1)) if draw(st.booleans()) else child)
    if node.type in CONTAINERS or node.type == "table":
        kinds = ["row"] if node.type == "table" else None
        children += draw(st.lists(elements(depth + 1, kinds), max_size=2))
        children = list(unique_keys(draw(st.permutations(children))))
    return msgspec.structs.replace(node, props=props, children=tuple(children))


@st.composite
def pairs(draw: st.DrawFn) -> tuple[Element, Element]:
    a = draw(roots())
    b = draw(st.one_of(roots(), edited(a), edited(a)))
    return validate(a), validate(b)


def assert_consistent(node: MirrorNode) -> None:
    """Parent links and key indexes of a mirror match its children."""
    assert node.keyed == {c.key: c for c in node.children if c.key is not None}
    for child in node.children:
        assert child.parent is node
        assert_consistent(child)


@SETTINGS
@given(pairs())
def test_applying_the_diff_gives_the_new_tree(pair: tuple[Element, Element]) -> None:
    a, b = pair
    patches = diff(a, b)
    assert strict(apply(a, patches)) == strict(b)
    mirror = Mirror(a)
    apply_to(mirror, patches)
    assert strict(mirror.to_element()) == strict(b)
    assert_consistent(mirror.root())


@st.composite
def prop_changes(draw: st.DrawFn) -> tuple[Element, Element]:
    """One element before and after its props change: each prop kept, dropped or redrawn."""
    element_type = draw(st.sampled_from(["progress", "row", "select", "button", "checkbox"]))
    old = draw(props_for(element_type))
    new = draw(props_for(element_type))
    for name in old:
        if draw(st.booleans()):
            new[name] = old[name]
    return Element(type=element_type, props=old), Element(type=element_type, props=new)


@settings(SETTINGS, max_examples=400)
@given(prop_changes())
def test_prop_patches_carry_every_change_a_renderer_would_show(
    pair: tuple[Element, Element],
) -> None:
    a, b = pair
    patches = diff(a, b)
    assert strict(apply(a, patches)) == strict(b)
    assert len(patches) <= 1  # one SetProps with just the changed and removed props
    for patch in patches:
        assert set(patch.props) | set(patch.removed) == {  # type: ignore[attr-defined]
            k for k in a.props.keys() | b.props.keys() if strict_value(a.props, b.props, k)
        }


def strict_value(a: dict[str, Any], b: dict[str, Any], key: str) -> bool:
    """Whether prop ``key`` differs between ``a`` and ``b`` (present in one only, or shown
    differently)."""
    return (
        key not in a or key not in b or msgspec.json.encode(a[key]) != msgspec.json.encode(b[key])
    )


@SETTINGS
@given(roots())
def test_the_diff_of_a_tree_with_itself_is_empty(a: Element) -> None:
    assert diff(a, a) == []
    assert diff(a, msgspec.msgpack.decode(encode(a), type=Element)) == []


def kept(a: Element, b: Element, node: MirrorNode) -> list[tuple[MirrorNode, Element]]:
    """The mirror nodes under ``node`` (showing ``a``) that should survive into ``b``."""

    def ident(children: tuple[Element | str, ...]) -> dict[Any, Element | str]:
        found: dict[Any, Element | str] = {}
        ordinal = 0
        for child in children:
            if isinstance(child, Element) and child.key is not None:
                found[child.key] = child
            else:
                found[ordinal] = child
                ordinal += 1
        return found

    out: list[tuple[MirrorNode, Element]] = []
    new = ident(b.children)
    for (name, old_child), mounted in zip(ident(a.children).items(), node.children, strict=True):
        new_child = new.get(name)
        same = isinstance(old_child, Element) and isinstance(new_child, Element)
        if same and old_child.type == new_child.type:  # type: ignore[union-attr]
            out.append((mounted, new_child))  # type: ignore[arg-type]
            out.extend(kept(old_child, new_child, mounted))  # type: ignore[arg-type]
    return out


@SETTINGS
@given(pairs())
def test_nodes_that_stay_keep_their_identity(pair: tuple[Element, Element]) -> None:
    a, b = pair
    if a.type != b.type or a.key != b.key:
        return  # the root is replaced whole
    mirror = Mirror(a)
    survivors = kept(a, b, mirror.root())
    apply_to(mirror, diff(a, b))
    alive = {id(n) for n in mirror.root().walk()}
    for mounted, element in survivors:
        assert id(mounted) in alive, f"{element.type}[{element.key}] was re-created"
        assert mounted.type == element.type and mounted.props == element.props


def lis_length(values: list[int]) -> int:
    """Length of a longest strictly increasing subsequence, the slow obvious way."""
    best = [1] * len(values)
    for j in range(len(values)):
        for i in range(j):
            if values[i] < values[j]:
                best[j] = max(best[j], best[i] + 1)
    return max(best, default=0)


@SETTINGS
@given(
    st.lists(st.integers(0, 40), unique=True, max_size=25),
    st.lists(st.integers(0, 40), unique=True, max_size=25),
)
def test_keyed_reorders_take_the_fewest_moves(old_keys: list[int], new_keys: list[int]) -> None:
    def table(keys: list[int]) -> Element:
        rows = tuple(Element(type="row", key=f"k{k}", props={"cells": [k]}) for k in keys)
        return Element(type="table", children=rows)

    a, b = table(old_keys), table(new_keys)
    patches = diff(a, b)
    staying = [old_keys.index(k) for k in new_keys if k in old_keys]
    moves = [p for p in patches if isinstance(p, Move)]
    assert len(moves) == len(staying) - lis_length(staying)
    assert len(patches) == len(moves) + len(set(old_keys) ^ set(new_keys))
    assert apply(a, patches) == b


@SETTINGS
@given(st.permutations(list(range(12))))
def test_a_permutation_is_only_moves(order: list[int]) -> None:
    rows = [Element(type="row", key=f"r{i}") for i in range(12)]
    a = Element(type="table", children=tuple(rows))
    b = Element(type="table", children=tuple(rows[i] for i in order))
    patches = diff(a, b)
    assert all(isinstance(p, Move) for p in patches)
    assert len(patches) == 12 - lis_length(order)
    mirror = Mirror(a)
    before = list(mirror.root().children)
    apply_to(mirror, patches)
    assert [n.key for n in mirror.root().children] == [f"r{i}" for i in order]
    assert {id(n) for n in mirror.root().children} == {id(n) for n in before}


@SETTINGS
@given(pairs())
def test_patches_survive_the_wire(pair: tuple[Element, Element]) -> None:
    a, b = pair
    patches = diff(a, b)
    decoded = decode_patches(encode(patches))
    assert decoded == patches
    assert strict(apply(a, decoded)) == strict(b)
