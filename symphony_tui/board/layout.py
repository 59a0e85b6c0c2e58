"""The Harmony Board's layout: a melody's DAG as boxes and orthogonal edges in character cells.

Layers are columns, read left to right. A terminal is wide and short (80x24 is roughly 2:1 in
cells, and a cell is twice as tall as it is wide), step ids are words, and pipelines read as
"this, then that", so columns of boxes joined by horizontal arrows use the space best: three to
four layers fit across 80 columns, and a layer of parallel steps stacks downwards.

The algorithm is Sugiyama's, in linear-ish passes so 1,000 steps lay out in a fraction of a
second on the UI thread:

1. Cycles (a melody being edited may have one) are broken by dropping the edges that close them,
   reported in :attr:`Layout.dropped`.
2. Layer assignment: longest path from the sources (the layer :class:`engine.melody.Dag` draws).
3. An edge spanning several layers gets a dummy item in each layer it crosses; a dummy is one
   row high and the edge passes through it horizontally, so edges never cross a box.
4. Crossing reduction: barycenter sweeps down and up the layers; connected components keep their
   declaration order and never interleave.
5. Rows: each layer is packed top to bottom with the rows its neighbours want (the median of
   their port rows), solved exactly per layer by isotonic regression (pool adjacent
   violators), alternating directions, so chains and long edges come out straight.
6. Channels: between two columns each source item's fan-out gets one vertical track; tracks are
   shared when their rows do not overlap, and ordered so that no source stub ever runs into a
   line that ends at a different target on the same row. Column x positions follow from the
   track counts.

Everything is deterministic: the same input gives the same output. This module only computes
numbers; it must not import Textual or know about step states or colours.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from engine.melody.model import Melody

__all__ = [
    "COMPACT",
    "NORMAL",
    "BoardGraph",
    "BoardNode",
    "Box",
    "Layout",
    "LayoutNode",
    "Route",
    "Spacing",
    "layout",
]

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class BoardNode:
    """One step as the board sees it: its id, its step type and the steps it depends on."""

    id: str
    uses: str
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BoardGraph:
    """The steps of a melody, in declaration order."""

    nodes: tuple[BoardNode, ...] = ()

    @classmethod
    def from_melody(cls, melody: Melody) -> BoardGraph:
        """The board's graph of ``melody``: ``needs`` plus the dependencies its references add."""
        from engine.melody.dag import step_dependencies

        return cls(
            tuple(BoardNode(s.id, s.uses, tuple(step_dependencies(s))) for s in melody.steps)
        )

    def edges(self) -> list[tuple[str, str]]:
        """(dependency, dependent) pairs between known steps, in declaration order."""
        known = {n.id for n in self.nodes}
        return [(d, n.id) for n in self.nodes for d in n.needs if d in known]


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """A node to place: its id and the text lines its box shows."""

    id: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spacing:
    """How boxes are drawn and spaced; :data:`NORMAL` and :data:`COMPACT` are the two modes."""

    #: Boxes have a one-cell border and a one-cell padding on each side.
    framed: bool
    #: Boxes of a layer share the layer's widest width.
    uniform: bool
    #: Fewest columns between two layers.
    layer_gap: int
    #: Blank rows between two boxes of a layer.
    node_gap: int
    #: Narrowest box (border included).
    min_width: int
    #: Blank cells around the whole drawing: (columns, rows).
    margin: tuple[int, int]


NORMAL = Spacing(framed=True, uniform=True, layer_gap=6, node_gap=1, min_width=16, margin=(2, 1))
COMPACT = Spacing(framed=False, uniform=False, layer_gap=4, node_gap=0, min_width=0, margin=(1, 0))


@dataclass(frozen=True, slots=True)
class Box:
    """Where a node is drawn, in cells; ``port`` is the row its edges leave and enter by."""

    id: str
    x: int
    y: int
    w: int
    h: int
    layer: int
    port: int


@dataclass(frozen=True, slots=True)
class Route:
    """An edge drawn from ``source`` to ``target`` as an orthogonal polyline.

    ``points`` are cell coordinates: the first is the cell right of the source box, the last
    the cell left of the target box (where an arrow head goes); consecutive points share a row
    or a column, and no three in a row are collinear.
    """

    source: str
    target: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """A laid-out graph; ``width`` and ``height`` include the margins."""

    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    #: Node ids per layer, top to bottom.
    layers: tuple[tuple[str, ...], ...]
    width: int
    height: int
    #: Edges left out to break cycles.
    dropped: tuple[tuple[str, str], ...] = ()


_SWEEPS = 4
_DUMMY_WEIGHT = 2.0


def layout(
    nodes: Sequence[LayoutNode], edges: Iterable[tuple[str, str]], *, compact: bool = False
) -> Layout:
    """Lay out ``nodes`` joined by ``edges`` (source, target); unknown ids and repeats are ignored.

    Args:
        nodes: the nodes in declaration order (the order breaks every tie).
        edges: (dependency, dependent) pairs; the dependency is drawn in an earlier layer.
        compact: the zoomed-out mode: unframed one-line nodes, tighter spacing.
    """
    spacing = COMPACT if compact else NORMAL
    n = len(nodes)
    index = {node.id: i for i, node in enumerate(nodes)}
    if len(index) != n:
        raise ValueError("node ids must be unique")
    pairs = list(
        dict.fromkeys(
            (index[a], index[b]) for a, b in edges if a in index and b in index and a != b
        )
    )
    kept, dropped = _break_cycles(n, pairs)
    layer = _layers(n, kept)
    g = _Graph(nodes, kept, layer, spacing)
    g.order()
    g.rows()
    return g.finish([(nodes[a].id, nodes[b].id) for a, b in dropped])


def _break_cycles(
    n: int, pairs: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[Point]]:
    """Kahn's algorithm; when it is stuck, the earliest stuck node loses its incoming edges."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        succs[a].append(b)
        preds[b].append(a)
    missing = [len(p) for p in preds]
    ready = [i for i in range(n) if missing[i] == 0]
    heapq.heapify(ready)
    done = [False] * n
    cut: set[Point] = set()
    placed = 0
    while placed < n:
        if not ready:
            stuck = next(i for i in range(n) if not done[i])
            for a in preds[stuck]:
                if not done[a]:
                    cut.add((a, stuck))
            missing[stuck] = 0
            ready.append(stuck)
        i = heapq.heappop(ready)
        done[i] = True
        placed += 1
        for b in succs[i]:
            if (i, b) in cut or done[b]:
                continue
            missing[b] -= 1
            if missing[b] == 0:
                heapq.heappush(ready, b)
    return [p for p in pairs if p not in cut], [p for p in pairs if p in cut]


def _layers(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Longest path from a source, for an acyclic edge list."""
    succs: list[list[int]] = [[] for _ in range(n)]
    missing = [0] * n
    for a, b in pairs:
        succs[a].append(b)
        missing[b] += 1
    layer = [0] * n
    stack = [i for i in range(n) if missing[i] == 0]
    while stack:
        i = stack.pop()
        for b in succs[i]:
            layer[b] = max(layer[b], layer[i] + 1)
            missing[b] -= 1
            if missing[b] == 0:
                stack.append(b)
    return layer


def _components(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Connected component of each node, numbered by their first node's declaration order."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def _median(values: list[float]) -> float:
    values.sort()
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _isotonic(wanted: list[float], weights: list[float], current: list[int]) -> list[int]:
    """The non-decreasing integers closest to ``wanted`` (weighted least squares, pool adjacent
    violators). Halves round towards ``current``, so a sweep never flips a tie back and forth."""
    blocks: list[list[float]] = []  # [weight, weighted sum, count, sum of current]
    for z, w, c in zip(wanted, weights, current, strict=True):
        blocks.append([w, w * z, 1, c])
        while len(blocks) > 1 and blocks[-2][1] * blocks[-1][0] > blocks[-1][1] * blocks[-2][0]:
            w2, s2, n2, c2 = blocks.pop()
            blocks[-1][0] += w2
            blocks[-1][1] += s2
            blocks[-1][2] += n2
            blocks[-1][3] += c2
    out: list[int] = []
    for weight, total, count, now in blocks:
        mean = total / weight
        value = math.floor(mean + 0.5)
        if value - mean == 0.5 and now / count < mean:
            value -= 1
        out.extend([value] * int(count))
    return out


class _Graph:
    """Working state of one layout: items (nodes, then dummies) and their neighbours."""

    def __init__(
        self,
        nodes: Sequence[LayoutNode],
        pairs: list[tuple[int, int]],
        layer: list[int],
        spacing: Spacing,
    ) -> None:
        self.nodes = nodes
        self.spacing = spacing
        n = len(nodes)
        self.n = n
        comp = _components(n, pairs)
        framed = spacing.framed
        widths = [max((cell_len(t) for t in node.lines), default=0) for node in nodes]
        self.width = [max(spacing.min_width, w + (4 if framed else 1)) for w in widths]
        self.height = [max(1, len(node.lines)) + (2 if framed else 0) for node in nodes]
        self.port = [(h - 1) // 2 for h in self.height]
        self.layer = list(layer)
        self.comp = comp
        self.up: list[list[int]] = [[] for _ in range(n)]
        self.down: list[list[int]] = [[] for _ in range(n)]
        #: Per edge: its items from source to target (dummies in between).
        self.chains: list[list[int]] = []
        for a, b in pairs:
            chain = [a]
            for k in range(layer[a] + 1, layer[b]):
                d = len(self.layer)
                self.layer.append(k)
                self.comp.append(comp[a])
                self.width.append(0)
                self.height.append(1)
                self.port.append(0)
                self.up.append([])
                self.down.append([])
                chain.append(d)
            chain.append(b)
            for u, v in itertools.pairwise(chain):
                self.down[u].append(v)
                self.up[v].append(u)
            self.chains.append(chain)
        depth = max(self.layer, default=-1) + 1
        self.layers: list[list[int]] = [[] for _ in range(depth)]
        for item, k in enumerate(self.layer):
            self.layers[k].append(item)
        self.pos = [0] * len(self.layer)
        self.y = [0] * len(self.layer)

    # -- crossing reduction ------------------------------------------------------------------

    def order(self) -> None:
        """Order each layer by barycenters, a few sweeps down and up."""
        comp, pos = self.comp, self.pos
        for items in self.layers:
            items.sort(key=lambda i: (comp[i], self._bary(i, self.up, i)))
            for p, i in enumerate(items):
                pos[i] = p
        for _ in range(_SWEEPS):
            for items in self.layers[1:]:
                self._sort(items, self.up)
            for items in reversed(self.layers[:-1]):
                self._sort(items, self.down)

    def _bary(self, item: int, near: list[list[int]], default: float) -> float:
        others = near[item]
        if not others:
            return default
        pos = self.pos
        return sum(pos[o] for o in others) / len(others)

    def _sort(self, items: list[int], near: list[list[int]]) -> None:
        comp, pos = self.comp, self.pos
        items.sort(key=lambda i: (comp[i], self._bary(i, near, pos[i]), pos[i]))
        for p, i in enumerate(items):
            pos[i] = p

    # -- rows ----------------------------------------------------------------------------------

    def rows(self) -> None:
        """Give every item a row: packed first, then pulled towards its neighbours."""
        for items in self.layers:
            offsets = self._offsets(items)
            for i, o in zip(items, offsets, strict=True):
                self.y[i] = o
        for _ in range(2 * _SWEEPS):  # until nothing moves, usually after two or three
            before = list(self.y)
            for items in self.layers[1:]:
                self._place(items, self.up)
            for items in reversed(self.layers[:-1]):
                self._place(items, self.down)
            if self.y == before:
                break

    def _offsets(self, items: list[int]) -> list[int]:
        """Each item's top row when the layer is packed from row 0."""
        gap, n, height = self.spacing.node_gap, self.n, self.height
        out: list[int] = []
        y = 0
        prev = -1
        for i in items:
            # Two dummies may share neighbouring rows: parallel lines need no blank row.
            if prev >= 0 and not (prev >= n and i >= n):
                y += gap
            out.append(y)
            y += height[i]
            prev = i
        return out

    def _place(self, items: list[int], near: list[list[int]]) -> None:
        y, port, n = self.y, self.port, self.n
        offsets = self._offsets(items)
        wanted: list[float] = []
        weights: list[float] = []
        current = [y[i] - o for i, o in zip(items, offsets, strict=True)]
        for i, o in zip(items, offsets, strict=True):
            others = near[i]
            if others:
                row = _median([y[j] + port[j] for j in others])
                weights.append(_DUMMY_WEIGHT if i >= n else 1.0)
            else:
                row = y[i] + port[i]
                weights.append(0.1)
            wanted.append(row - port[i] - o)
        for i, o, z in zip(items, offsets, _isotonic(wanted, weights, current), strict=True):
            y[i] = z + o

    # -- channels, columns and routes ----------------------------------------------------------

    def finish(self, dropped: list[tuple[str, str]]) -> Layout:
        spacing = self.spacing
        mx, my = spacing.margin
        top = min(self.y, default=0)
        y = [v - top + my for v in self.y]
        self.y = y
        depth = len(self.layers)
        col_width = [max((self.width[i] for i in items), default=0) for items in self.layers]
        tracks: list[dict[int, int]] = []
        widths: list[int] = []
        for k in range(depth - 1):
            track, count = self._tracks(self.layers[k])
            tracks.append(track)
            widths.append(max(spacing.layer_gap, 2 * count + 2))
        x = [mx] * depth
        for k in range(1, depth):
            x[k] = x[k - 1] + col_width[k - 1] + widths[k - 1]
        boxes: dict[str, Box] = {}
        for i, node in enumerate(self.nodes):
            k = self.layer[i]
            w = col_width[k] if spacing.uniform else self.width[i]
            boxes[node.id] = Box(node.id, x[k], y[i], w, self.height[i], k, y[i] + self.port[i])
        routes = [self._route(chain, x, col_width, widths, tracks) for chain in self.chains]
        width = (x[-1] + col_width[-1] + mx) if depth else 0
        height = (max(y[i] + self.height[i] for i in range(len(y))) + my) if depth else 0
        ordered = tuple(
            tuple(
                self.nodes[i].id
                for i in sorted((i for i in items if i < self.n), key=y.__getitem__)
            )
            for items in self.layers
        )
        return Layout(boxes, tuple(routes), ordered, width, height, tuple(dropped))

    def _tracks(self, items: list[int]) -> tuple[dict[int, int], int]:
        """Tracks of the channel right of a layer: source item -> track index, and the count.

        A source whose lines all stay on its row needs none. Two sources share a track when
        their vertical spans are a blank row apart. A source's stub runs left of the track and
        its lines to targets right of it, so when source A's row is the row of a target B goes
        to, A's track must be left of B's, or B would seem to join A's fan (unless that join
        is true).
        """
        y, port = self.y, self.port

        def row(i: int) -> int:
            return y[i] + port[i]

        spans: dict[int, tuple[int, int]] = {}
        targets: dict[int, set[int]] = {}
        for a in items:
            rows = {row(b) for b in self.down[a]}
            here = row(a)
            if rows and rows != {here}:
                spans[a] = (min(*rows, here), max(*rows, here))
                targets[a] = rows
        if not spans:
            return {}, 0
        source_rows = {row(a): a for a in spans}
        must_follow: dict[int, set[int]] = {a: set() for a in spans}  # b -> sources left of b
        for b, rows in targets.items():
            for r in rows:
                src = source_rows.get(r)
                # Harmless the other way round only if the join it shows is true: A leads to
                # that target too, and B to everything else A's track leads to.
                if src is None or src == b:
                    continue
                if not (r in targets[src] and targets[src] - {r} <= rows):
                    must_follow[b].add(src)

        def key(a: int) -> tuple[int, int, int]:
            src = row(a)
            down = sum(targets[a]) / len(targets[a]) >= src
            # Downward fans from lower sources go left, upward fans from higher ones: fewer
            # stubs cross another fan's vertical.
            return (0, -src, a) if down else (1, src, a)

        waiting = {a: len(v) for a, v in must_follow.items()}
        after: dict[int, list[int]] = {a: [] for a in spans}
        for b, before in must_follow.items():
            for a in before:
                after[a].append(b)
        heap = [(key(a), a) for a, w in waiting.items() if w == 0]
        heapq.heapify(heap)
        seq: list[int] = []
        left = set(spans)
        while left:
            if not heap:  # contradictory constraints: take the best-placed one anyway
                a = min(left, key=key)
                waiting[a] = 0
                heap.append((key(a), a))
            _, a = heapq.heappop(heap)
            if a not in left:
                continue
            left.discard(a)
            seq.append(a)
            for b in after[a]:
                waiting[b] -= 1
                if waiting[b] == 0 and b in left:
                    heapq.heappush(heap, (key(b), b))
        track: dict[int, int] = {}
        ends: list[int] = []  # the lowest row used on each track
        for a in seq:
            lo, hi = spans[a]
            first = max((track[p] + 1 for p in must_follow[a] if p in track), default=0)
            t = first
            while t < len(ends) and ends[t] >= lo - 1:
                t += 1
            if t == len(ends):
                ends.append(hi)
            else:
                ends[t] = max(ends[t], hi)
            track[a] = t
        return track, len(ends)

    def _route(
        self,
        chain: list[int],
        x: list[int],
        col_width: list[int],
        widths: list[int],
        tracks: list[dict[int, int]],
    ) -> Route:
        y, port, layer = self.y, self.port, self.layer
        first, last = chain[0], chain[-1]
        k0 = layer[first]
        start_x = x[k0] + (col_width[k0] if self.spacing.uniform else self.width[first])
        points: list[Point] = [(start_x, y[first] + port[first])]
        for a, b in itertools.pairwise(chain):
            k = layer[a]
            ra, rb = y[a] + port[a], y[b] + port[b]
            if ra != rb:
                count = max(tracks[k].values()) + 1
                lead = (widths[k] - (2 * count + 2)) // 2
                tx = x[k] + col_width[k] + lead + 1 + 2 * tracks[k][a]
                points += [(tx, ra), (tx, rb)]
            if b != last:  # a dummy: straight through its column
                points.append((x[k + 1] + col_width[k + 1] - 1, rb))
        points.append((x[layer[last]] - 1, y[last] + port[last]))
        return Route(self.nodes[first].id, self.nodes[last].id, _simplify(points))


def _simplify(points: list[Point]) -> tuple[Point, ...]:
    """Drop repeated points and the middle one of any three on a line."""
    out: list[Point] = []
    for p in points:
        if out and out[-1] == p:
            continue
        if len(out) >= 2:
            (x0, y0), (x1, y1) = out[-2], out[-1]
            if (x0 == x1 == p[0]) or (y0 == y1 == p[1]):
                out[-1] = p
                continue
        out.append(p)
    return tuple(out)
