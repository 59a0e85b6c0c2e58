"""``${...}`` references: finding them, typed and interpolated resolution, escapes, errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.melody.refs import Ref, find_refs, format_path, resolve, scan, split, whole_ref

PARAMS = {"target": "src", "n": 3, "paths": ["a", "b"], "flag": False, "none": None}
STEPS: dict[str, Any] = {
    "test": {
        "status": "failed",
        "outputs": {"report": "2 failed", "failed": 2, "tests": [{"id": "t1"}], "ratio": 0.5},
    },
    "my-step": {"status": "completed", "outputs": {"out_1": "x"}},
}


def res(value: Any) -> Any:
    return resolve(value, params=PARAMS, steps=STEPS)


def test_find_refs_reads_each_kind() -> None:
    found = find_refs(
        {
            "a": "${params.target}",
            "b": ["x ${steps.test.outputs.report} y", {"c": "${steps.my-step.status}"}],
            "d": 3,
        }
    )
    assert found == [
        Ref("params", "target", None, "${params.target}"),
        Ref("steps", "test", "report", "${steps.test.outputs.report}"),
        Ref("steps", "my-step", "status", "${steps.my-step.status}"),
    ]
    assert found[2].is_status and not found[1].is_status
    assert str(found[0]) == "${params.target}"


def test_several_refs_in_one_string_keep_their_order() -> None:
    refs = find_refs("${params.a}-${params.b}:${steps.s.outputs.o}")
    assert [(r.kind, r.name, r.field) for r in refs] == [
        ("params", "a", None),
        ("params", "b", None),
        ("steps", "s", "o"),
    ]


def test_blanks_inside_the_braces_are_allowed() -> None:
    assert find_refs("${ params.target }") == [Ref("params", "target", None, "${ params.target }")]


@pytest.mark.parametrize(
    "text",
    [
        "${params}",
        "${params.}",
        "${foo.bar}",
        "${steps.test}",
        "${steps.test.outputs}",
        "${steps.test.result}",
        "${steps.test.outputs.a.b}",
        "${params.a b}",
        "${}",
    ],
)
def test_malformed_refs_are_refused_with_the_expected_shapes(text: str) -> None:
    with pytest.raises(ValueError) as info:
        find_refs({"x": ["ok", text]})
    assert str(info.value) == (
        f"x[1]: malformed reference {text!r}: expected ${{params.NAME}},"
        " ${steps.ID.outputs.NAME} or ${steps.ID.status}"
    )


def test_an_unclosed_ref_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'\$\{' without a matching '\}' in 'x \$\{params.a'"):
        find_refs("x ${params.a")


def test_scan_reports_every_problem_with_its_path() -> None:
    refs, problems = scan({"a": ["${params.x}", "${bad}"], "b": {"c": "${"}}, ("with",))
    assert [(p, r.name) for p, r in refs] == [(("with", "a", 0), "x")]
    assert [p for p, _ in problems] == [("with", "a", 1), ("with", "b", "c")]
    assert format_path(("with", "a", 0, "b")) == "with.a[0].b"
    assert format_path((0, "x")) == "[0].x"


def test_escape_writes_a_literal_dollar_brace() -> None:
    assert find_refs("$${params.target}") == []
    assert res("$${params.target}") == "${params.target}"
    assert res("cost: $$5 and $${HOME} and ${params.target}") == ("cost: $$5 and ${HOME} and src")
    assert split("$${a} ${params.n}") == ("${a} ", Ref("params", "n", None, "${params.n}"))


def test_a_whole_ref_keeps_the_value_type() -> None:
    assert res("${params.n}") == 3
    assert res("${params.paths}") == ["a", "b"]
    assert res("${params.flag}") is False
    assert res("${params.none}") is None
    assert res("${steps.test.outputs.failed}") == 2
    assert res("${steps.test.outputs.tests}") == [{"id": "t1"}]
    assert res("${steps.test.status}") == "failed"
    assert whole_ref("${params.n}") == Ref("params", "n", None, "${params.n}")
    assert whole_ref(" ${params.n}") is None
    assert whole_ref(3) is None


def test_refs_inside_longer_strings_are_interpolated() -> None:
    assert res("dir=${params.target}") == "dir=src"
    assert res("${params.n} tests") == "3 tests"
    assert res("${params.paths}!") == '["a", "b"]!'
    assert res("flag ${params.flag}, none ${params.none}") == "flag false, none null"
    assert res("${steps.test.outputs.ratio}/${steps.test.outputs.tests}") == '0.5/[{"id": "t1"}]'
    assert res("Explain: ${steps.test.outputs.report}") == "Explain: 2 failed"


def test_nested_values_are_walked_and_the_input_is_left_alone() -> None:
    value = {
        "paths": ["${params.target}", "tests", {"deep": ["${steps.my-step.outputs.out_1}"]}],
        "n": 5,
        "none": None,
        "ok": True,
        "text": "no refs",
    }
    before = copy.deepcopy(value)
    assert res(value) == {
        "paths": ["src", "tests", {"deep": ["x"]}],
        "n": 5,
        "none": None,
        "ok": True,
        "text": "no refs",
    }
    assert value == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${params.missing}", "cannot resolve ${params.missing}: no parameter 'missing'"),
        (
            "x ${steps.lint.status}",
            "cannot resolve ${steps.lint.status}: step 'lint' has no result",
        ),
        (
            "${steps.test.outputs.nope}",
            "cannot resolve ${steps.test.outputs.nope}: step 'test' has no output 'nope'",
        ),
        ("${nope}", "malformed reference '${nope}'"),
    ],
)
def test_unresolvable_refs_name_the_ref(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        res({"a": [text]})
    assert str(info.value).startswith(message)
