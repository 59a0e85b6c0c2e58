"""The keyed diff: the minimal patches that turn one valid tree into another.

Children are matched by key, and children without a key by their order among the unkeyed
siblings (the first unkeyed child with the first, and so on). A matched pair of the same type is
diffed in place (props, text, children); a pair of different types is replaced; unmatched old
children are removed and unmatched new ones inserted. Children that stay are reordered with the
fewest moves: those on a longest increasing subsequence of their old positions stay put and
each other one moves once (as in Inferno and ivi).

Patches are emitted so that every path is valid when its patch applies: a node's own props,
then its matched children's patches (addressed by old positions), then removals (highest index
first), then moves and inserts (right to left, each before the node that follows it).
"""

from __future__ import annotations

from bisect import bisect_left

from symphony_sdk.vdom.errors import VDomError
from symphony_sdk.vdom.model import Element, Node, Path, same_value
from symphony_sdk.vdom.patches import Insert, Move, Patch, Remove, Replace, SetProps, SetText
from symphony_sdk.vdom.paths import describe, segment

__all__ = ["diff", "longest_increasing_subsequence"]


def diff(old: Element, new: Element) -> list[Patch]:
    """The patches that turn ``old`` into ``new``; empty when they are the same.

    Both trees must be valid (:func:`~symphony_sdk.vdom.checks.validate`). A root whose type or
    key changes is replaced whole.

    Raises:
        VDomError: a list of children holds a key twice (an unvalidated tree).
    """
    out: list[Patch] = []
    if old.type != new.type or old.key != new.key:
        out.append(Replace(path=(), node=new))
        return out
    try:
        _element(old, new, (), out)
    except _DuplicateKeys as e:
        raise VDomError.at(describe(old, e.path), "duplicate keys among the children") from None
    return out


_ABSENT = object()


class _DuplicateKeys(Exception):
    def __init__(self, path: Path) -> None:
        self.path = path


def _element(old: Element, new: Element, path: Path, out: list[Patch]) -> None:
    if old is new:
        return
    _props(old.props, new.props, path, out)
    if old.children or new.children:
        _children(old.children, new.children, path, out)


def _props(old: dict[str, object], new: dict[str, object], path: Path, out: list[Patch]) -> None:
    if same_value(old, new):  # the common case, checked in one go
        return
    changed = {k: v for k, v in new.items() if not same_value(old.get(k, _ABSENT), v)}
    removed = tuple(k for k in old if k not in new)
    if changed or removed:
        out.append(SetProps(path=path, props=changed, removed=removed))


def _node(old: Node, new: Node, path: Path, out: list[Patch]) -> None:
    """Patches for a matched pair of children (same key, or same unkeyed ordinal)."""
    if isinstance(old, str) and isinstance(new, str):
        if old != new:
            out.append(SetText(path=path, text=new))
    elif isinstance(old, Element) and isinstance(new, Element) and old.type == new.type:
        _element(old, new, path, out)
    else:
        out.append(Replace(path=path, node=new))


def _identities(children: tuple[Node, ...]) -> list[str | int]:
    """What matches a child across trees: its key, else its ordinal among unkeyed siblings."""
    found: list[str | int] = []
    unkeyed = 0
    for child in children:
        if isinstance(child, Element) and child.key is not None:
            found.append(child.key)
        else:
            found.append(unkeyed)
            unkeyed += 1
    return found


def _children(old: tuple[Node, ...], new: tuple[Node, ...], path: Path, out: list[Patch]) -> None:
    old_ids, new_ids = _identities(old), _identities(new)
    if old_ids == new_ids:  # the common case: nothing added, removed or moved here
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            if o is not n:
                _node(o, n, (*path, segment(o, i)), out)
        return
    unmatched = {ident: i for i, ident in enumerate(old_ids)}
    if len(unmatched) != len(old_ids) or len(set(new_ids)) != len(new_ids):
        raise _DuplicateKeys(path)
    sources: list[int] = []  # for each new child: the index of its old match, or -1
    for j, ident in enumerate(new_ids):
        i = unmatched.pop(ident, -1)
        sources.append(i)
        if i >= 0 and old[i] is not new[j]:
            _node(old[i], new[j], (*path, segment(old[i], i)), out)
    for i in sorted(unmatched.values(), reverse=True):
        out.append(Remove(path=path, index=i))
    _reorder(sources, new, len(old), path, out)


def _reorder(
    sources: list[int], new: tuple[Node, ...], old_count: int, path: Path, out: list[Patch]
) -> None:
    """Moves and inserts that turn the surviving old children into ``new``.

    Walks ``new`` right to left, placing each child that is not on the longest increasing
    subsequence right before the child that follows it. ``order`` holds a sort key for each
    child present, so a child's current index is a bisection: an old child not yet placed keys
    as ``(old index, 0)``; a placed one as ``(base of its successor, -tick)``, which sorts just
    before its successor and after everything before it.
    """
    stays = longest_increasing_subsequence(sources)
    order = [(i, 0) for i in sorted(i for i in sources if i >= 0)]
    if len(stays) == len(order) == len(new):
        return
    after = (old_count, 0)  # the key of the child to the right: past the end at first
    tick = 0
    for j in range(len(new) - 1, -1, -1):
        i = sources[j]
        if j in stays:
            after = (i, 0)
            continue
        tick += 1
        key = (after[0], -tick)
        if i >= 0:
            from_index = bisect_left(order, (i, 0))
            del order[from_index]
            to_index = bisect_left(order, after)
            out.append(Move(path=path, from_index=from_index, to_index=to_index))
        else:
            to_index = bisect_left(order, after)
            out.append(Insert(path=path, index=to_index, node=new[j]))
        order.insert(to_index, key)
        after = key


def longest_increasing_subsequence(values: list[int]) -> set[int]:
    """Positions of a longest strictly increasing subsequence of the non-negative ``values``.

    Negative values (children with no old match) are skipped. O(n log n).
    """
    tails: list[int] = []  # tails[k]: the smallest value ending an increasing run of length k+1
    tail_at: list[int] = []  # tail_at[k]: the position of tails[k]
    previous = [-1] * len(values)
    for j, value in enumerate(values):
        if value < 0:
            continue
        k = bisect_left(tails, value)
        previous[j] = tail_at[k - 1] if k else -1
        if k == len(tails):
            tails.append(value)
            tail_at.append(j)
        else:
            tails[k] = value
            tail_at[k] = j
    chosen: set[int] = set()
    j = tail_at[-1] if tail_at else -1
    while j >= 0:
        chosen.add(j)
        j = previous[j]
    return chosen
