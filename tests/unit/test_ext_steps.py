"""Step inputs and outputs checked against their declaration."""

from __future__ import annotations

from typing import Any

import pytest

from engine.extensions.manifest import FieldSpec
from engine.extensions.steps import check_inputs, check_outputs, type_matches
from engine.types.errors import EXIT_USAGE, ExtensionError, StepInputError

WHERE = "step type acme.run"

INPUTS = {
    "command": FieldSpec(type="string", required=True),
    "count": FieldSpec(type="integer", default=1),
    "ratio": FieldSpec(type="number"),
    "check": FieldSpec(type="boolean", default=True),
    "mode": FieldSpec(type="string", enum=["fast", "full"], default="fast"),
    "paths": FieldSpec(type="array", items="string"),
    "env": FieldSpec(type="object"),
    "extra": FieldSpec(),
}

OUTPUTS = {
    "stdout": FieldSpec(type="string"),
    "exit_code": FieldSpec(type="integer"),
    "duration_s": FieldSpec(type="number"),
    "lines": FieldSpec(type="array", items="string"),
}


def input_error(values: dict[str, Any], fields: dict[str, FieldSpec] = INPUTS) -> str:
    with pytest.raises(StepInputError) as info:
        check_inputs(WHERE, fields, values)
    assert isinstance(info.value, ExtensionError)
    assert info.value.exit_code == EXIT_USAGE
    message = str(info.value)
    assert message.startswith(f"{WHERE}: ")
    return message


def output_error(values: Any) -> str:
    with pytest.raises(StepInputError) as info:
        check_outputs(WHERE, OUTPUTS, values)
    message = str(info.value)
    assert message.startswith(f"{WHERE}: ")
    return message


# --- type_matches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("string", "x", True),
        ("string", 1, False),
        ("integer", 1, True),
        ("integer", True, False),
        ("integer", 1.0, False),
        ("number", 1, True),
        ("number", 1.5, True),
        ("number", False, False),
        ("boolean", True, True),
        ("boolean", 0, False),
        ("array", [1], True),
        ("array", (1,), True),
        ("array", "abc", False),
        ("object", {}, True),
        ("object", [], False),
        ("any", None, True),
        ("any", object(), True),
    ],
)
def test_type_matches(kind: str, value: Any, expected: bool) -> None:
    assert type_matches(kind, value) is expected


# --- inputs ---------------------------------------------------------------------------------------


def test_defaults_are_filled() -> None:
    assert check_inputs(WHERE, INPUTS, {"command": "ls"}) == {
        "command": "ls",
        "count": 1,
        "ratio": None,
        "check": True,
        "mode": "fast",
        "paths": None,
        "env": None,
        "extra": None,
    }


def test_given_values_are_kept() -> None:
    values = {
        "command": "ls",
        "count": 3,
        "ratio": 0.5,
        "check": False,
        "mode": "full",
        "paths": ["a", "b"],
        "env": {"A": "1"},
        "extra": [1, "two"],
    }
    assert check_inputs(WHERE, INPUTS, values) == values


def test_input_values_are_not_mutated() -> None:
    values = {"command": "ls"}
    check_inputs(WHERE, INPUTS, values)
    assert values == {"command": "ls"}


def test_unknown_input_with_hint() -> None:
    message = input_error({"comand": "ls"})
    assert "unknown input 'comand'" in message
    assert "did you mean 'command'?" in message
    assert "inputs: command, count" in message


def test_unknown_input_without_close_match() -> None:
    message = input_error({"command": "ls", "zzzzzz": 1})
    assert "unknown input 'zzzzzz'" in message
    assert "did you mean" not in message


def test_unknown_input_when_step_has_none() -> None:
    message = input_error({"x": 1}, {})
    assert "unknown input 'x'" in message
    assert "(inputs: none)" in message


def test_missing_required() -> None:
    assert "required input 'command' is missing" in input_error({"count": 2})


def test_none_for_required_is_missing() -> None:
    assert "required input 'command' is missing" in input_error({"command": None})


def test_none_for_optional_is_absent() -> None:
    result = check_inputs(WHERE, INPUTS, {"command": "ls", "count": None, "mode": None})
    assert result["count"] == 1
    assert result["mode"] == "fast"
    assert result["ratio"] is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"command": 1}, "'command' must be string, got an integer"),
        ({"command": "ls", "count": True}, "'count' must be integer, got a boolean"),
        ({"command": "ls", "count": 1.0}, "'count' must be integer, got a number"),
        ({"command": "ls", "count": "3"}, "'count' must be integer, got a string"),
        ({"command": "ls", "ratio": True}, "'ratio' must be number, got a boolean"),
        ({"command": "ls", "check": 1}, "'check' must be boolean, got an integer"),
        ({"command": "ls", "paths": "a"}, "'paths' must be array, got a string"),
        ({"command": "ls", "env": ["A=1"]}, "'env' must be object, got an array"),
    ],
)
def test_wrong_types(values: dict[str, Any], expected: str) -> None:
    assert expected in input_error(values)


def test_int_is_a_number() -> None:
    assert check_inputs(WHERE, INPUTS, {"command": "ls", "ratio": 2})["ratio"] == 2


def test_enum() -> None:
    message = input_error({"command": "ls", "mode": "slow"})
    assert "'mode' must be one of 'fast', 'full', got 'slow'" in message


def test_array_items() -> None:
    message = input_error({"command": "ls", "paths": ["a", 2, "c"]})
    assert "paths[1] must be string, got an integer" in message
    assert check_inputs(WHERE, INPUTS, {"command": "ls", "paths": ("a", "b")})["paths"] == (
        "a",
        "b",
    )
    assert check_inputs(WHERE, INPUTS, {"command": "ls", "paths": []})["paths"] == []


# --- outputs --------------------------------------------------------------------------------------


def test_outputs_ok() -> None:
    values = {"stdout": "hi", "exit_code": 0, "duration_s": 1, "lines": ["hi"]}
    result = check_outputs(WHERE, OUTPUTS, values)
    assert result == values
    assert result is not values


def test_outputs_subset_ok() -> None:
    assert check_outputs(WHERE, OUTPUTS, {}) == {}
    assert check_outputs(WHERE, OUTPUTS, {"stdout": "x"}) == {"stdout": "x"}


def test_outputs_accept_none_values() -> None:
    values = {"stdout": None, "exit_code": None, "lines": None}
    assert check_outputs(WHERE, OUTPUTS, values) == values


def test_undeclared_output() -> None:
    assert "returned undeclared output 'stderr'" in output_error({"stdout": "", "stderr": ""})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"exit_code": "0"}, "'output exit_code' must be integer, got a string"),
        ({"exit_code": False}, "'output exit_code' must be integer, got a boolean"),
        ({"duration_s": "1s"}, "must be number, got a string"),
        ({"lines": ["a", None]}, "lines[1] must be string, got null"),
    ],
)
def test_output_wrong_type(values: dict[str, Any], expected: str) -> None:
    assert expected in output_error(values)


@pytest.mark.parametrize(
    ("values", "described"),
    [(None, "null"), (["a"], "an array"), ("text", "a string"), (3, "an integer")],
)
def test_output_not_a_dict(values: Any, described: str) -> None:
    assert f"the step returned {described}, not an object" in output_error(values)
