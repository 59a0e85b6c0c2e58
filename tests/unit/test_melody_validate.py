"""Validation: every kind of problem, each with the file, its exact location and a reason."""

from __future__ import annotations

from typing import Any

import pytest

from engine.extensions.discovery import discover
from engine.extensions.manifest import StepTypeSpec
from engine.melody import Melody, MelodyErrors, validate, validate_or_raise
from engine.melody.loader import parse_melody_text
from engine.melody.validate import compatible
from tests.unit.test_melody_model import SPEC_JSON, SPEC_TOML, SPEC_YAML

SOURCE = "check.toml"


def spec(type_: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None) -> StepTypeSpec:
    return StepTypeSpec.model_validate({"type": type_, "inputs": inputs, "outputs": outputs or {}})


TYPES = {
    "acme.run": spec(
        "acme.run",
        {
            "command": {"type": "string", "required": True},
            "count": {"type": "integer", "default": 1},
            "ratio": {"type": "number"},
            "mode": {"type": "string", "enum": ["fast", "full"], "default": "fast"},
            "paths": {"type": "array", "items": "string"},
            "env": {"type": "object"},
            "extra": {},
        },
        {
            "stdout": {"type": "string"},
            "exit_code": {"type": "integer"},
            "ratio": {"type": "number"},
            "lines": {"type": "array", "items": "string"},
            "data": {"type": "any"},
        },
    ),
    "acme.noop": spec("acme.noop", {}, {"ok": {"type": "boolean"}}),
}


def builtin_step_types() -> dict[str, StepTypeSpec]:
    types: dict[str, StepTypeSpec] = {}
    for found in discover([], packages=False):
        assert found.manifest is not None, found.error
        for s in found.manifest.contributes.steps:
            types.setdefault(s.type, s)
    return types


def make(*steps: dict[str, Any], params: dict[str, Any] | None = None) -> Melody:
    return Melody.model_validate(
        {"melody": {"name": "m"}, "params": params or {}, "steps": list(steps)}
    )


def run(command: str = "true", step_id: str = "a", **extra: Any) -> dict[str, Any]:
    with_ = extra.pop("with_", {})
    return {"id": step_id, "uses": "acme.run", "with": {"command": command, **with_}, **extra}


def check(
    m: Melody, params: dict[str, Any] | None = None, types: dict[str, StepTypeSpec] = TYPES
) -> list[tuple[str | None, str]]:
    errors = validate(m, source=SOURCE, step_types=types, params=params or {})
    for e in errors:
        assert e.source == SOURCE
        assert e.message == f"{SOURCE}: {e.location}: {e.reason}"
    return [(e.location, e.reason) for e in errors]


# -- the SPEC example -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt"), [(SPEC_TOML, "toml"), (SPEC_YAML, "yaml"), (SPEC_JSON, "json")]
)
def test_spec_example_fits_the_builtin_step_types(text: str, fmt: str) -> None:
    # llm.chat is built in (extensions/llm), so SPEC §4's example is valid as it is.
    m = parse_melody_text(text, fmt=fmt, source=SOURCE)
    assert check(m, types=builtin_step_types()) == []
    validate_or_raise(m, source=SOURCE, step_types=builtin_step_types())


def test_a_valid_melody_has_no_problems() -> None:
    m = make(
        run("make", "build", with_={"count": 2, "ratio": 1, "mode": "full", "paths": ["a", "b"]}),
        run(
            "echo ${steps.build.outputs.stdout} ${params.n}",
            "use",
            with_={
                "count": "${steps.build.outputs.exit_code}",
                "ratio": "${steps.build.outputs.exit_code}",  # an integer is a number
                "paths": ["${steps.build.outputs.stdout}", "${params.where}"],
                "env": {"A": "${steps.build.status}"},
                "extra": "${steps.build.outputs.lines}",
                "mode": "${params.mode}",
            },
            when="steps.build.outputs.exit_code == 0 and params.n > 1",
        ),
        {"id": "last", "uses": "acme.noop", "needs": ["use"]},
        params={
            "n": {"type": "integer", "default": 2},
            "where": {"default": "src"},
            "mode": {"type": "string", "default": "fast"},
        },
    )
    assert check(m) == []


# -- steps and the graph ------------------------------------------------------------------------


def test_duplicate_step_ids() -> None:
    m = make(run(step_id="lint"), run(step_id="test"), run(step_id="lint"))
    assert check(m) == [("steps[2] (lint).id", "duplicate step id 'lint' (first used by steps[0])")]


def test_needs_naming_unknown_steps() -> None:
    m = make(run(step_id="test"), run(step_id="explain", needs=["test", "tset", "deploy"]))
    assert check(m) == [
        ("steps[1] (explain).needs[1]", "unknown step 'tset'; did you mean 'test'?"),
        ("steps[1] (explain).needs[2]", "unknown step 'deploy'"),
    ]


def test_cycles_show_their_path() -> None:
    m = make(
        run(step_id="a", needs=["c"]),
        run(step_id="b", needs=["a"]),
        run("${steps.b.outputs.stdout}", step_id="c"),
        run(step_id="x", needs=["y"]),
        run(step_id="y", when="steps.x.status == 'completed'"),
        run(step_id="z", needs=["z"]),
    )
    assert check(m) == [
        ("steps[0] (a)", "dependency cycle: a → c → b → a"),
        ("steps[3] (x)", "dependency cycle: x → y → x"),
        ("steps[5] (z)", "dependency cycle: z → z"),
    ]


def test_unknown_step_types_suggest_a_close_one() -> None:
    m = make({"id": "a", "uses": "acme.rnu"}, {"id": "b", "uses": "llm.chat", "with": {"x": 1}})
    assert check(m) == [
        ("steps[0] (a).uses", "unknown step type 'acme.rnu'; did you mean 'acme.run'?"),
        ("steps[1] (b).uses", "unknown step type 'llm.chat': no available extension provides it"),
    ]


# -- inputs -------------------------------------------------------------------------------------


def test_unknown_inputs_suggest_a_close_one() -> None:
    m = make(run(with_={"cmd": "x", "zzz": 1}))
    assert check(m) == [
        (
            "steps[0] (a).with.cmd",
            "unknown input 'cmd' for acme.run; did you mean 'command'? (inputs: command, count,"
            " ratio, mode, paths, env, extra)",
        ),
        (
            "steps[0] (a).with.zzz",
            "unknown input 'zzz' for acme.run (inputs: command, count, ratio, mode, paths, env,"
            " extra)",
        ),
    ]
    m = make(run(with_={"modes": "fast"}))
    assert check(m)[0][1].startswith("unknown input 'modes' for acme.run; did you mean 'mode'?")
    assert check(make({"id": "a", "uses": "acme.noop", "with": {"x": 1}})) == [
        ("steps[0] (a).with.x", "unknown input 'x' for acme.noop (inputs: none)")
    ]


def test_missing_required_inputs() -> None:
    m = make(
        {"id": "a", "uses": "acme.run"}, {"id": "b", "uses": "acme.run", "with": {"command": None}}
    )
    assert check(m) == [
        ("steps[0] (a).with", "required input 'command' of acme.run is missing"),
        ("steps[1] (b).with", "required input 'command' of acme.run is missing"),
    ]


def test_literal_values_of_the_wrong_type() -> None:
    m = make(
        run(
            with_={
                "count": "3",
                "ratio": True,
                "paths": "src",
                "env": ["A=1"],
            }
        ),
        run(3, step_id="b", with_={"count": 2.5}),  # type: ignore[arg-type]
    )
    assert check(m) == [
        ("steps[0] (a).with.count", "input 'count' of acme.run must be integer, got a string"),
        ("steps[0] (a).with.ratio", "input 'ratio' of acme.run must be number, got a boolean"),
        ("steps[0] (a).with.paths", "input 'paths' of acme.run must be array, got a string"),
        ("steps[0] (a).with.env", "input 'env' of acme.run must be object, got an array"),
        ("steps[1] (b).with.command", "input 'command' of acme.run must be string, got an integer"),
        ("steps[1] (b).with.count", "input 'count' of acme.run must be integer, got a number"),
    ]


def test_values_outside_the_enum_and_array_items_of_the_wrong_type() -> None:
    m = make(run(with_={"mode": "slow", "paths": ["a", 2, None]}))
    assert check(m) == [
        (
            "steps[0] (a).with.mode",
            "input 'mode' of acme.run must be one of 'fast', 'full', got 'slow'",
        ),
        (
            "steps[0] (a).with.paths[1]",
            "input 'paths'[1] of acme.run must be string, got an integer",
        ),
        ("steps[0] (a).with.paths[2]", "input 'paths'[2] of acme.run must be string, got null"),
    ]


# -- references ---------------------------------------------------------------------------------


def test_refs_to_unknown_params_steps_and_outputs() -> None:
    m = make(
        run(step_id="build"),
        {"id": "plain", "uses": "acme.noop"},
        {"id": "mystery", "uses": "nobody.knows"},
        run(
            "${params.tagret} ${params.zzz}",
            step_id="use",
            with_={
                "paths": ["${steps.biuld.outputs.stdout}", "${steps.build.outputs.stdot}"],
                "env": {"A": "${steps.plain.outputs.nothing}", "B": "${steps.mystery.outputs.x}"},
            },
        ),
        params={"target": {"default": "src"}},
    )
    assert check(m) == [
        (
            "steps[2] (mystery).uses",
            "unknown step type 'nobody.knows': no available extension provides it",
        ),
        (
            "steps[3] (use).with.command",
            "unknown parameter 'tagret' in ${params.tagret}; did you mean 'target'?",
        ),
        (
            "steps[3] (use).with.command",
            "unknown parameter 'zzz' in ${params.zzz} (parameters: target)",
        ),
        (
            "steps[3] (use).with.paths[0]",
            "unknown step 'biuld' in ${steps.biuld.outputs.stdout}; did you mean 'build'?",
        ),
        (
            "steps[3] (use).with.paths[1]",
            "step 'build' (acme.run) has no output 'stdot'; did you mean 'stdout'?"
            " (outputs: stdout, exit_code, ratio, lines, data)",
        ),
        (
            "steps[3] (use).with.env.A",
            "step 'plain' (acme.noop) has no output 'nothing' (outputs: ok)",
        ),
    ]


def test_refs_when_no_params_are_declared() -> None:
    assert check(make(run("${params.x}"))) == [
        ("steps[0] (a).with.command", "unknown parameter 'x' in ${params.x} (none declared)")
    ]


def test_ref_types_must_fit_the_input() -> None:
    m = make(
        run(step_id="build"),
        run(
            "${steps.build.outputs.exit_code}",
            step_id="use",
            with_={
                "count": "${steps.build.outputs.ratio}",
                "ratio": "${steps.build.outputs.stdout}",
                "paths": ["${steps.build.outputs.exit_code}", "${steps.build.outputs.data}"],
                "env": "${steps.build.outputs.lines}",
                "mode": "${params.level}",
            },
        ),
        params={"level": {"type": "integer", "default": 1}},
    )
    assert check(m) == [
        (
            "steps[1] (use).with.command",
            "${steps.build.outputs.exit_code} is integer but input 'command' of acme.run takes"
            " string",
        ),
        (
            "steps[1] (use).with.count",
            "${steps.build.outputs.ratio} is number but input 'count' of acme.run takes integer",
        ),
        (
            "steps[1] (use).with.ratio",
            "${steps.build.outputs.stdout} is string but input 'ratio' of acme.run takes number",
        ),
        (
            "steps[1] (use).with.paths[0]",
            "${steps.build.outputs.exit_code} is integer but input 'paths'[0] of acme.run takes"
            " string",
        ),
        (
            "steps[1] (use).with.env",
            "${steps.build.outputs.lines} is array but input 'env' of acme.run takes object",
        ),
        (
            "steps[1] (use).with.mode",
            "${params.level} is integer but input 'mode' of acme.run takes string",
        ),
    ]


def test_interpolated_strings_are_strings() -> None:
    m = make(
        run(step_id="build"),
        run(step_id="use", with_={"count": "${steps.build.outputs.exit_code}0"}),
    )
    assert check(m) == [
        (
            "steps[1] (use).with.count",
            "input 'count' of acme.run must be integer, got a string with references",
        )
    ]


def test_status_refs_are_strings() -> None:
    m = make(run(step_id="build"), run(step_id="use", with_={"count": "${steps.build.status}"}))
    assert check(m) == [
        (
            "steps[1] (use).with.count",
            "${steps.build.status} is string but input 'count' of acme.run takes integer",
        )
    ]


def test_compatible_types() -> None:
    assert compatible("integer", "number")
    assert not compatible("number", "integer")
    assert compatible("any", "string") and compatible("object", "any")
    assert not compatible("integer", "string")
    assert compatible("array", "array")


def test_malformed_refs() -> None:
    m = make(run("${params}", with_={"paths": ["ok", "${steps.a.outputs"]}))
    assert check(m) == [
        (
            "steps[0] (a).with.command",
            "malformed reference '${params}': expected ${params.NAME}, ${steps.ID.outputs.NAME}"
            " or ${steps.ID.status}",
        ),
        (
            "steps[0] (a).with.paths[1]",
            "'${' without a matching '}' in '${steps.a.outputs'",
        ),
    ]


def test_refs_in_steps_of_unknown_types_are_still_checked() -> None:
    m = make({"id": "a", "uses": "llm.chat", "with": {"prompt": "${steps.nope.outputs.x}"}})
    assert check(m) == [
        ("steps[0] (a).uses", "unknown step type 'llm.chat': no available extension provides it"),
        ("steps[0] (a).with.prompt", "unknown step 'nope' in ${steps.nope.outputs.x}"),
    ]


# -- conditions ---------------------------------------------------------------------------------


def test_invalid_when() -> None:
    m = make(run(when="len(steps.a.outputs.lines) > 0"), run(step_id="b", when="steps.a.status =="))
    assert check(m) == [
        ("steps[0] (a).when", "function calls are not allowed in `when`"),
        ("steps[1] (b).when", "invalid syntax in `when` (at the end)"),
    ]


def test_when_refs_to_unknown_steps_params_and_outputs() -> None:
    m = make(
        run(step_id="test"),
        run(
            step_id="b",
            when="steps.tset.status == 'failed' or params.levle > 1"
            " or steps.test.outputs.exit == 1",
        ),
        params={"level": {"default": 1}},
    )
    assert check(m) == [
        ("steps[1] (b).when", "unknown parameter 'levle' in `when`; did you mean 'level'?"),
        ("steps[1] (b).when", "unknown step 'tset' in `when`; did you mean 'test'?"),
        (
            "steps[1] (b).when",
            "step 'test' (acme.run) has no output 'exit'; did you mean 'exit_code'?"
            " (outputs: stdout, exit_code, ratio, lines, data)",
        ),
    ]


# -- parameters ---------------------------------------------------------------------------------


def test_required_params_must_be_given() -> None:
    m = make(run("${params.target}"), params={"target": {"required": True}, "opt": {}})
    assert check(m) == [("params.target", "required parameter 'target' is not given")]
    assert check(m, params={"target": "src"}) == []
    assert check(m, params={"target": None}) == [
        ("params.target", "required parameter 'target' is not given")
    ]


def test_given_params_must_be_declared_and_of_the_declared_type() -> None:
    m = make(run(), params={"level": {"type": "integer", "default": 1}})
    assert check(m, params={"levle": 2, "level": "high"}) == [
        ("params.level", "the value given, 'high', is a string; the parameter is integer"),
        (
            "params",
            "parameter 'levle' is given but not declared; did you mean 'level'?"
            " (parameters: level)",
        ),
    ]
    assert check(make(run()), params={"x": 1}) == [
        ("params", "parameter 'x' is given but not declared (parameters: none)")
    ]


# -- all together -------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_and_can_be_raised() -> None:
    m = make(
        run(step_id="a", needs=["b", "ghost"], with_={"count": "x"}),
        run(step_id="b", needs=["a"], when="foo()"),
        run(step_id="a"),
        {"id": "d", "uses": "nope.run"},
        params={"p": {"required": True}},
    )
    found = check(m)
    assert [loc for loc, _ in found] == [
        "params.p",
        "steps[0] (a).needs[1]",
        "steps[0] (a).with.count",
        "steps[1] (b).when",
        "steps[2] (a).id",
        "steps[3] (d).uses",
        "steps[0] (a)",
    ]
    with pytest.raises(MelodyErrors) as info:
        validate_or_raise(m, source=SOURCE, step_types=TYPES)
    assert len(info.value.errors) == len(found)
    assert info.value.exit_code == 2
    assert info.value.message.splitlines()[0] == (
        "check.toml: params.p: required parameter 'p' is not given"
    )
