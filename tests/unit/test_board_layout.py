"""The Harmony Board's layout: layers, boxes and routes obey the rules a reader relies on."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.melody import Melody
from symphony_tui.board.layout import BoardGraph, BoardNode, Layout, LayoutNode, layout

Edges = list[tuple[str, str]]


def nodes_for(ids: list[str], *, compact: bool = False) -> list[LayoutNode]:
    if compact:
        return [LayoutNode(i, (f"● {i}",)) for i in ids]
    return [LayoutNode(i, (f"● {i}", "shell.run")) for i in ids]


def cells(route_points: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    out = [route_points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(route_points):
        if y0 == y1:
            step = 1 if x1 > x0 else -1
            out += [(x, y0) for x in range(x0 + step, x1 + step, step)]
        else:
            step = 1 if y1 > y0 else -1
            out += [(x0, y) for y in range(y0 + step, y1 + step, step)]
    return out


def check(result: Layout, edges: Edges) -> None:
    """Every property a drawing must have."""
    boxes = result.boxes
    kept = set(edges) - set(result.dropped)
    # Every kept edge goes from an earlier layer to a later one, and has exactly one route.
    assert sorted((r.source, r.target) for r in result.routes) == sorted(kept)
    for a, b in kept:
        assert boxes[a].layer < boxes[b].layer
    # No two boxes overlap; all of them lie inside the drawing.
    taken: dict[tuple[int, int], str] = {}
    for box in boxes.values():
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.w <= result.width and box.y + box.h <= result.height
        assert box.y <= box.port < box.y + box.h
        for x in range(box.x, box.x + box.w):
            for y in range(box.y, box.y + box.h):
                assert (x, y) not in taken, f"{box.id} overlaps {taken[x, y]}"
                taken[x, y] = box.id
    for route in result.routes:
        points = route.points
        source, target = boxes[route.source], boxes[route.target]
        # Orthogonal, leaving the source's right side and arriving left of the target's port.
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            assert x0 == x1 or y0 == y1
        assert points[0] == (source.x + source.w, source.port)
        assert points[-1] == (target.x - 1, target.port)
        # Edges never pass through a box.
        for cell in cells(points):
            assert cell not in taken, f"{route.source}->{route.target} crosses {taken[cell]}"
            assert 0 <= cell[0] < result.width and 0 <= cell[1] < result.height
    # Layers list every node once, top to bottom.
    listed = [i for layer in result.layers for i in layer]
    assert sorted(listed) == sorted(boxes)
    for k, layer in enumerate(result.layers):
        assert all(boxes[i].layer == k for i in layer)
        assert [boxes[i].y for i in layer] == sorted(boxes[i].y for i in layer)


def test_empty_graph() -> None:
    result = layout([], [])
    assert result.boxes == {} and result.routes == () and result.layers == ()
    assert (result.width, result.height) == (0, 0)


def test_single_node() -> None:
    result = layout(nodes_for(["only"]), [])
    box = result.boxes["only"]
    assert (box.layer, box.x, box.y) == (0, 2, 1)
    assert result.width == box.x + box.w + 2


def test_chain_is_one_straight_row() -> None:
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d")]
    result = layout(nodes_for(ids), edges)
    check(result, edges)
    assert [result.boxes[i].layer for i in ids] == [0, 1, 2, 3]
    assert len({result.boxes[i].y for i in ids}) == 1
    assert all(len(r.points) == 2 for r in result.routes)  # straight arrows


def test_diamond() -> None:
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    result = layout(nodes_for(["a", "b", "c", "d"]), edges)
    check(result, edges)
    assert result.layers == (("a",), ("b", "c"), ("d",))
    a, b, c, d = (result.boxes[i] for i in "abcd")
    assert b.port < a.port < c.port  # the fan-out is centred on its source
    assert a.port == d.port


def test_long_edge_passes_beside_the_boxes_between() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    result = layout(nodes_for(["a", "b", "c", "d"]), edges)
    check(result, edges)
    assert result.boxes["d"].layer == 3


def test_disconnected_components_do_not_interleave() -> None:
    edges = [("a1", "a2"), ("a1", "a3"), ("b1", "b2"), ("b1", "b3")]
    ids = ["a1", "a2", "a3", "b1", "b2", "b3"]
    result = layout(nodes_for(ids), edges)
    check(result, edges)
    assert result.layers[1] == ("a2", "a3", "b2", "b3")
    bottom_a = max(result.boxes[i].y + result.boxes[i].h for i in ("a1", "a2", "a3"))
    assert bottom_a <= min(result.boxes[i].y for i in ("b1", "b2", "b3"))


def test_uniform_width_per_layer_in_normal_mode_only() -> None:
    ids = ["a", "a-much-longer-step-id", "b"]
    edges = [("a", "b")]
    normal = layout(nodes_for(ids), edges)
    assert normal.boxes["a"].w == normal.boxes["a-much-longer-step-id"].w
    compact = layout(nodes_for(ids, compact=True), edges, compact=True)
    check(compact, edges)
    assert compact.boxes["a"].w < compact.boxes["a-much-longer-step-id"].w
    assert compact.boxes["a"].h == 1
    assert compact.height < normal.height and compact.width < normal.width


def test_cycles_are_broken_and_reported() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
    result = layout(nodes_for(["a", "b", "c", "d"]), edges)
    assert result.dropped == (("c", "a"),)
    check(result, edges)


def test_unknown_ids_self_loops_and_repeats_are_ignored() -> None:
    edges = [("a", "b"), ("a", "b"), ("a", "a"), ("ghost", "b")]
    result = layout(nodes_for(["a", "b"]), edges)
    assert [(r.source, r.target) for r in result.routes] == [("a", "b")]


def test_duplicate_ids_are_refused() -> None:
    try:
        layout(nodes_for(["a", "a"]), [])
    except ValueError as e:
        assert "unique" in str(e)
    else:
        raise AssertionError("duplicate ids were accepted")


def test_a_full_crossing_between_aligned_boxes_reads_true() -> None:
    """p and q both feed r and s: the fans may merge, every line still ends where it should."""
    ids = ["p", "q", "r", "s", "p2", "q2"]
    edges = [("p", "r"), ("q", "s"), ("p", "s"), ("q", "r"), ("p2", "p"), ("q2", "q")]
    result = layout(nodes_for(ids), edges)
    check(result, edges)
    check_no_false_joins(result)


def test_a_stub_never_runs_into_another_fan() -> None:
    """n1 feeds n2, n4 and n6 while n0 feeds all of them and n3, n5: n0's trunk must not
    seem to carry n1's line up to n3."""
    ids = [f"n{i}" for i in range(7)]
    edges = [("n0", f"n{i}") for i in range(2, 7)] + [("n1", "n2"), ("n1", "n4"), ("n1", "n6")]
    for compact in (False, True):
        result = layout(nodes_for(ids, compact=compact), edges, compact=compact)
        check(result, edges)
        check_no_false_joins(result)


def horizontal_cells(points: tuple[tuple[int, int], ...]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y0 == y1:
            found.update((x, y0) for x in range(min(x0, x1), max(x0, x1) + 1))
    return found


def check_no_false_joins(result: Layout) -> None:
    """Lines that run along the same cells read as joined: every source among them must then
    really lead to every target among them."""
    edges = {(r.source, r.target) for r in result.routes}
    along: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for route in result.routes:
        for cell in horizontal_cells(route.points):
            along.setdefault(cell, []).append((route.source, route.target))
    for cell, found in along.items():
        for s1, t1 in found:
            for s2, t2 in found:
                assert s1 == s2 or t1 == t2 or {(s1, t2), (s2, t1)} <= edges, (
                    f"{s1}->{t1} and {s2}->{t2} run together at {cell}"
                )


def test_deterministic() -> None:
    rng = random.Random(7)
    ids = [f"s{i}" for i in range(60)]
    edges = [(ids[j], ids[i]) for i in range(1, 60) for j in rng.sample(range(i), min(2, i))]
    first = layout(nodes_for(ids), edges)
    assert layout(nodes_for(ids), list(edges)) == first
    check(first, edges)


def test_board_graph_from_melody_adds_reference_dependencies() -> None:
    melody = Melody.model_validate(
        {
            "melody": {"name": "m"},
            "steps": [
                {"id": "build", "uses": "shell.run"},
                {"id": "test", "uses": "pytest.run", "needs": ["build"]},
                {
                    "id": "report",
                    "uses": "shell.run",
                    "with": {"text": "${steps.test.outputs.report}"},
                },
            ],
        }
    )
    graph = BoardGraph.from_melody(melody)
    assert graph.nodes[2] == BoardNode("report", "shell.run", ("test",))
    assert graph.edges() == [("build", "test"), ("test", "report")]


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], Edges]:
    n = draw(st.integers(1, 30))
    ids = [f"n{i}" for i in range(n)]
    edges: Edges = []
    for i in range(1, n):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True))
        edges += [(ids[p], ids[i]) for p in parents]
    return ids, edges


@settings(max_examples=60, deadline=None)
@given(dags(), st.booleans())
def test_random_dags(graph: tuple[list[str], Edges], compact: bool) -> None:
    ids, edges = graph
    result = layout(nodes_for(ids, compact=compact), edges, compact=compact)
    assert result.dropped == ()
    check(result, edges)
    assert layout(nodes_for(ids, compact=compact), edges, compact=compact) == result
