"""The step graph: explicit and implicit dependencies, order, layers, reachability, cycles."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from engine.melody import CycleError, Dag, Melody, MelodyError, find_cycle
from engine.melody.dag import step_dependencies


def melody(*steps: dict[str, Any]) -> Melody:
    return Melody.model_validate({"melody": {"name": "m"}, "steps": list(steps)})


def step(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "uses": "x.run", **extra}


def test_needs_with_refs_and_when_refs_all_make_edges() -> None:
    m = melody(
        step("build"),
        step("lint"),
        step("test", needs=["build"], **{"with": {"bin": "${steps.build.outputs.path}"}}),
        step(
            "report",
            when="steps.test.status == 'failed' or steps['lint'].outputs.count > 0",
            **{"with": {"text": ["see ${steps.test.outputs.summary}"], "t": "${params.x}"}},
        ),
    )
    dag = Dag.from_melody(m)
    assert dag.deps("build") == frozenset()
    assert dag.deps("test") == {"build"}
    assert dag.deps("report") == {"test", "lint"}
    assert dag.dependents("build") == {"test"}
    assert dag.dependents("test") == {"report"}
    assert step_dependencies(m.step("report")) == ["test", "lint"]


def test_invalid_parts_add_no_edges() -> None:
    # Validation reports these; the graph of a melody that has them just leaves them out.
    m = melody(
        step("a", needs=["ghost"], when="len(x)", **{"with": {"v": "${steps.b.outputs"}}),
        step("b", **{"with": {"v": "${steps.nobody.status}"}}),
    )
    dag = Dag.from_melody(m)
    assert dag.deps("a") == frozenset() and dag.deps("b") == frozenset()


def diamond() -> Dag:
    #   a   e
    #  / \  |
    # b   c |
    #  \ /  |
    #   d --+--> f (needs d and e)
    return Dag(
        ["a", "b", "c", "d", "e", "f"],
        {"b": ["a"], "c": ["a"], "d": ["c", "b"], "f": ["d", "e"]},
    )


def test_order_is_topological_and_stable() -> None:
    dag = diamond()
    assert dag.order == ("a", "b", "c", "d", "e", "f")
    # Declaration order decides among ready steps, not insertion of dependencies.
    reverse = Dag(["z", "y", "x"], {"x": ["z"]})
    assert reverse.order == ("z", "y", "x")
    late_root = Dag(["c", "b", "a"], {"c": ["a"], "b": ["a"]})
    assert late_root.order == ("a", "c", "b")


def test_layers_use_the_longest_path() -> None:
    dag = diamond()
    assert dag.layers == [["a", "e"], ["b", "c"], ["d"], ["f"]]
    assert dag.layer("f") == 3
    # A shortcut edge does not pull a step up: d needs a directly and through b.
    assert Dag(["a", "b", "d"], {"b": ["a"], "d": ["a", "b"]}).layers == [["a"], ["b"], ["d"]]


def test_reachability_roots_and_leaves() -> None:
    dag = diamond()
    assert dag.upstream("d") == {"a", "b", "c"}
    assert dag.upstream("f") == {"a", "b", "c", "d", "e"}
    assert dag.upstream("a") == frozenset()
    assert dag.downstream("a") == {"b", "c", "d", "f"}
    assert dag.downstream("e") == {"f"}
    assert dag.downstream("f") == frozenset()
    assert dag.roots == ("a", "e")
    assert dag.leaves == ("f",)
    assert len(dag) == 6 and "d" in dag and "zz" not in dag
    assert dag.ids == ("a", "b", "c", "d", "e", "f")


def test_unknown_dependencies_and_repeats_are_dropped() -> None:
    dag = Dag(["a", "b"], {"b": ["a", "a", "ghost"], "ghost": ["a"]})
    assert dag.deps("b") == {"a"}
    assert dag.dependents("a") == {"b"}


def test_a_cycle_raises_with_its_path() -> None:
    m = melody(
        step("setup"),
        step("a", needs=["setup", "c"]),
        step("b", needs=["a"]),
        step("c", **{"with": {"x": "${steps.b.outputs.y}"}}),
        step("after", needs=["c"]),
    )
    with pytest.raises(CycleError) as info:
        Dag.from_melody(m)
    assert info.value.path == ["a", "c", "b", "a"]
    assert str(info.value) == "dependency cycle: a → c → b → a"
    assert isinstance(info.value, MelodyError)


def test_a_step_that_needs_itself_is_a_cycle() -> None:
    with pytest.raises(CycleError) as info:
        Dag.from_melody(melody(step("a", when="steps.a.status == 'failed'")))
    assert info.value.path == ["a", "a"]


def test_find_cycle() -> None:
    assert find_cycle(["a", "b", "c"], {"b": ["a"], "c": ["b", "a"]}) is None
    assert find_cycle([], {}) is None
    # The path starts at the earliest-declared step of the cycle, each step needing the next.
    assert find_cycle(["a", "b", "c"], {"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle(["x", "c", "b", "a"], {"x": ["a"], "a": ["b"], "b": ["c"], "c": ["b"]}) == [
        "c",
        "b",
        "c",
    ]
    assert find_cycle(["a"], {"a": ["outside"], "outside": ["a"]}) is None


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="step id 'a' is used more than once"):
        Dag(["a", "b", "a"], {})


def random_graph(n: int, seed: int = 7) -> tuple[list[str], dict[str, list[str]]]:
    rng = random.Random(seed)
    ids = [f"s{i}" for i in range(n)]
    deps = {ids[i]: rng.sample(ids[:i], min(2, i)) for i in range(n)}
    return ids, deps


def test_ten_thousand_steps_build_order_and_layer_fast() -> None:
    ids, deps = random_graph(10_000)
    started = time.perf_counter()
    dag = Dag(ids, deps)
    order, layers = dag.order, dag.layers
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f}s"
    position = {step_id: n for n, step_id in enumerate(order)}
    assert all(position[d] < position[s] for s in ids for d in deps[s])
    assert sum(len(layer) for layer in layers) == 10_000


def test_a_ten_thousand_step_chain_needs_no_recursion() -> None:
    ids = [f"s{i}" for i in range(10_000)]
    deps = {ids[i]: [ids[i - 1]] for i in range(1, len(ids))}
    dag = Dag(ids, deps)
    assert len(dag.layers) == 10_000
    assert len(dag.downstream("s0")) == 9_999
    deps["s0"] = ["s9999"]
    cycle = find_cycle(ids, deps)
    assert cycle is not None and len(cycle) == 10_001
    assert cycle[0] == cycle[-1] == "s0"
