"""Semantic versions, ranges, and dependency resolution over an index."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.extensions.marketplace import IndexVersion
from engine.extensions.resolve import Node, Present, resolve
from engine.extensions.semver import Range, Version, VersionError, highest
from engine.types.errors import InstallError

V = Version.parse


def test_versions_order_by_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted((V(v) for v in reversed(ordered)), key=lambda v: v) == [V(v) for v in ordered]
    assert V("1.0.0+build.5") == V("1.0.0")
    with pytest.raises(VersionError, match="not a semantic version"):
        V("1.0")


@pytest.mark.parametrize(
    ("spec", "yes", "no"),
    [
        (">=1.2,<2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0", "2.0.0-rc.1"]),
        ("^1.4", ["1.4.0", "1.99.0"], ["1.3.9", "2.0.0"]),
        ("^0.3.1", ["0.3.1", "0.3.9"], ["0.4.0", "0.3.0"]),
        ("~1.4", ["1.4.0", "1.4.7"], ["1.5.0"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("!=1.0.1", ["1.0.0", "1.0.2"], ["1.0.1"]),
        ("*", ["0.0.1", "9.0.0"], ["1.0.0-beta"]),
        (">=1.0.0-rc.1", ["1.0.0-rc.2", "1.0.0", "1.5.0"], ["1.0.0-beta", "1.1.0-rc.1"]),
    ],
)
def test_ranges(spec: str, yes: list[str], no: list[str]) -> None:
    r = Range.parse(spec)
    assert [v for v in yes if not r.allows(V(v))] == []
    assert [v for v in no if r.allows(V(v))] == []


def test_bad_ranges_name_the_comparator() -> None:
    with pytest.raises(VersionError, match=r"'=>1' is not a version comparison"):
        Range.parse(">=1.0, =>1")
    assert highest([V("1.0.0"), V("1.5.0"), V("2.0.0")], Range.parse("<2")) == V("1.5.0")
    assert highest([V("2.0.0")], Range.parse("<2")) is None


def offer(**versions: list[tuple[str, dict[str, str]]]) -> Callable[[str], list[IndexVersion]]:
    sha = "0" * 64

    def available(ext_id: str) -> list[IndexVersion]:
        key = ext_id.replace(".", "_")
        return [
            IndexVersion(version=v, url="x", sha256=sha, requires=req)
            for v, req in versions.get(key, [])
        ]

    return available


def test_resolution_follows_picked_versions_and_agrees_with_installed_ones() -> None:
    available = offer(
        a_base=[("1.0.0", {}), ("1.4.0", {"a.util": ">=2"}), ("2.0.0", {})],
        a_util=[("1.0.0", {}), ("2.1.0", {})],
    )
    app = Node("a.app", V("1.0.0"), {"a.base": ">=1.2"})
    legacy = Present(Node("a.legacy", V("1.0.0"), {"a.base": "<2"}), True, "in x")
    picks = resolve({"a.app": app}, {"a.legacy": legacy}, available)
    assert {i: v.version for i, v in picks.items()} == {"a.base": "1.4.0", "a.util": "2.1.0"}


def test_resolution_errors_name_every_requirer() -> None:
    available = offer(a_base=[("1.0.0", {}), ("2.0.0", {})])
    app = Node("a.app", V("1.0.0"), {"a.base": ">=2"})
    old = Present(Node("a.old", V("1.0.0"), {"a.base": "<2"}), True, "in x")
    with pytest.raises(InstallError) as caught:
        resolve({"a.app": app}, {"a.old": old}, available)
    assert str(caught.value) == (
        "no version of a.base satisfies every requirement (a.app 1.0.0 requires >=2;"
        " a.old 1.0.0 requires <2); the index has 1.0.0, 2.0.0"
    )
    builtin = Present(Node("a.base", V("1.0.0")), False, "built into Symphony")
    with pytest.raises(InstallError, match=r"a.base 1.0.0 \(built into Symphony\) does not match"):
        resolve({"a.app": app}, {"a.base": builtin}, available)
    with pytest.raises(InstallError, match="no marketplace index is configured"):
        resolve({"a.app": app}, {}, None)
