"""``when`` conditions: what may be written, what is refused and why, and how they evaluate."""

from __future__ import annotations

from typing import Any

import pytest

from engine.melody.expr import compile_when

PARAMS: dict[str, Any] = {"target": "src", "level": 2, "modes": ["fast", "full"], "cfg": {"a": 1}}
STEPS: dict[str, Any] = {
    "test": {"status": "failed", "outputs": {"failed": 3, "summary": "3 failed", "paths": ["a"]}},
    "lint": {"status": "completed", "outputs": {"count": 0}},
    "my-step": {"status": "skipped", "outputs": {}},
}


def holds(text: str, params: dict[str, Any] = PARAMS, steps: dict[str, Any] = STEPS) -> bool:
    return compile_when(text).evaluate(params=params, steps=steps)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps.test.status == 'failed'", True),
        ("steps.test.status != 'failed'", False),
        ("steps.test.outputs.failed > 0", True),
        ("steps.test.outputs.failed >= 3 and steps.lint.outputs.count == 0", True),
        ("steps.test.outputs.failed < 3 or steps.lint.status == 'completed'", True),
        ("not steps.lint.outputs.count", True),
        ("0 < steps.test.outputs.failed <= 3", True),
        ("0 < steps.test.outputs.failed < 3", False),
        ("steps.test.status in ['failed', 'crashed']", True),
        ("steps.test.status in ('failed',)", True),
        ("steps.lint.status not in ['failed', 'crashed']", True),
        ("'failed' in steps.test.outputs.summary", True),
        ("params.target == 'src'", True),
        ("params['target'] == 'src'", True),
        ("params.level >= 2.0", True),
        ("params.level > -1", True),
        ("params.modes[0] == 'fast'", True),
        ("params.modes[-1] == 'full'", True),
        ("params.cfg.a == 1", True),
        ("params.cfg['a'] == 1", True),
        ("steps['my-step'].status == 'skipped'", True),
        ("steps.test.outputs['paths'][0] == 'a'", True),
        ("steps.test.outputs.paths == ['a']", True),
        ("True", True),
        ("None == None", True),
        ("  steps.test.status == 'failed'\n", True),
    ],
)
def test_allowed_forms_evaluate(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_missing_data_reads_as_none() -> None:
    assert holds("steps.deploy.status == None")
    assert holds("steps.test.outputs.missing == None")
    assert holds("params.unknown == None")
    assert holds("params.modes[5] == None")
    assert holds("params.target.x == None")  # indexing a string gives nothing, not a crash
    assert holds("steps.test.outputs.failed > 0", steps={}) is False
    # Ordering against None is false both ways instead of an error.
    assert holds("steps.deploy.outputs.n < 3") is False
    assert holds("steps.deploy.outputs.n >= 3") is False
    assert holds("'x' in steps.deploy.outputs.list") is False
    assert holds("'x' not in steps.deploy.outputs.list") is True
    # A step result without outputs.
    assert holds("steps.s.outputs.a == None", steps={"s": {"status": "failed"}})


def test_references_are_recorded() -> None:
    condition = compile_when(
        "steps.test.status == 'failed' and steps['lint'].outputs.count > params.level"
        " or params.target == 'x'"
    )
    assert condition.step_refs == {"test", "lint"}
    assert condition.param_refs == {"level", "target"}
    assert condition.output_refs == {("lint", "count")}
    assert condition.source.startswith("steps.test.status")


def test_an_unknown_step_status_is_none_not_an_error() -> None:
    condition = compile_when("steps.test.status == 'failed'")
    assert condition.evaluate(params={}, steps={}) is False
    assert condition.evaluate(params={}, steps={"test": {"status": "failed", "outputs": {}}})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("len(params.modes) > 1", "function calls are not allowed in `when`"),
        ("steps.test.status.upper() == 'FAILED'", "function calls are not allowed in `when`"),
        ("__import__('os').system('true')", "function calls are not allowed in `when`"),
        ("(lambda: 1)() == 1", "function calls are not allowed in `when`"),
        ("lambda: 1", "lambda expressions are not allowed in `when`"),
        (
            "steps.__class__ == 1",
            "names starting with '__' are not allowed in `when` ('__class__')",
        ),
        (
            "params.target.__class__.__mro__",
            "names starting with '__' are not allowed in `when` ('__class__')",
        ),
        (
            "steps.test.outputs.__dict__",
            "names starting with '__' are not allowed in `when` ('__dict__')",
        ),
        ("().__class__", "attribute and [...] access are only allowed on `params` and `steps`"),
        ("'x'.join", "attribute and [...] access are only allowed on `params` and `steps`"),
        ("[1][0] == 1", "attribute and [...] access are only allowed on `params` and `steps`"),
        ("os.environ", "unknown name 'os' in `when` (only `params` and `steps` can be used)"),
        ("x == 1", "unknown name 'x' in `when` (only `params` and `steps` can be used)"),
        (
            "steps.a.status == true",
            "unknown name 'true' in `when`; write True (only `params` and `steps` can be used)",
        ),
        ("params.level + 1 > 2", "arithmetic is not allowed in `when`"),
        (
            "~params.level",
            "arithmetic is not allowed in `when` (only `not` and a sign on a number)",
        ),
        ("-params.level < 0", "arithmetic is not allowed in `when` (only `not` and a sign on a"),
        ("steps.a.status is None", "`is` is not allowed in `when`; use == or != (x == None)"),
        ("1 if params.a else 0", "conditional expressions (x if c else y) are not allowed"),
        ("[x for x in params.modes]", "comprehensions are not allowed in `when`"),
        ("{'a': 1} == params.cfg", "dict literals are not allowed in `when`"),
        ("params.target in {'a', 'b'}", "set literals are not allowed in `when`; use a list"),
        ("(x := 1)", "assignments (:=) are not allowed in `when`"),
        ("f'{params.target}' == 'src'", "f-strings are not allowed in `when`"),
        ("params.modes[0:1] == []", "slices are not allowed in `when`"),
        ("params.modes[params.level]", "only a constant string or integer may be used inside"),
        ("params.modes[True]", "only a constant string or integer may be used inside"),
        ("b'x' == params.target", "the constant b'x' is not allowed in `when`"),
        ("steps", "`steps` must be followed by a step id: steps.ID.status"),
        ("steps[0].status", "`steps` must be followed by a step id: steps.ID.status"),
        ("params", "`params` must be followed by a parameter name: params.NAME"),
        ("steps.test == 'failed'", "steps.test must be followed by .status or .outputs.NAME"),
        (
            "steps.test.result == 'x'",
            "steps.test must be followed by .status or .outputs.NAME, not .result",
        ),
        ("steps.test.status.x == 1", "nothing can follow steps.test.status"),
        ("steps.test.outputs == {}", "steps.test.outputs must be followed by an output name"),
        ("", "`when` is empty"),
    ],
)
def test_refused_forms_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        compile_when(text)
    assert str(info.value).startswith(reason)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("params.a = 1", "invalid syntax in `when` (column 10)"),
        ("  params.a = 1", "invalid syntax in `when` (column 12)"),
        ("params.a ==== 1", "invalid syntax in `when` (column 12)"),
        ("(params.a == 1", "invalid syntax in `when`: '(' was never closed (column 1)"),
        ("steps.test.status ==", "invalid syntax in `when` (at the end)"),
    ],
)
def test_syntax_errors_give_the_column(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        compile_when(text)
    assert str(info.value) == reason


def test_conditions_are_values() -> None:
    a = compile_when("params.a == 1")
    assert a == compile_when("params.a == 1")
    assert a != compile_when("params.a == 2")
    assert "params.a == 1" in repr(a)
