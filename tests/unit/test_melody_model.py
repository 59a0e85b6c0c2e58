"""Melody files: the schema, the three formats, errors with file and location, finding files."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from engine.melody import (
    MELODY_DIR,
    Melody,
    MelodyError,
    MelodyErrors,
    RetrySpec,
    find_melody,
    list_melodies,
    load_melody,
)
from engine.melody.loader import parse_melody_text
from engine.types.errors import EXIT_USAGE, SymphonyError, UsageError

SPEC_TOML = """\
[melody]
name = "check"
description = "Lint and test, then explain failures"

[params]
target = { default = "src" }

[[steps]]
id = "lint"
uses = "ruff.check"                 # a step type contributed by an extension
with = { paths = ["${params.target}"] }

[[steps]]
id = "test"
uses = "pytest.run"
retry = { attempts = 2, backoff = "exponential", initial_s = 0.5 }
timeout_s = 600

[[steps]]
id = "explain"
uses = "llm.chat"
needs = ["lint", "test"]
when = "steps.test.status == 'failed'"
optional = true
with = { prompt = "Explain these failures: ${steps.test.outputs.report}" }
"""

SPEC_YAML = """\
melody:
  name: check
  description: Lint and test, then explain failures
params:
  target: {default: src}
steps:
  - id: lint
    uses: ruff.check
    with:
      paths: ["${params.target}"]
  - id: test
    uses: pytest.run
    retry: {attempts: 2, backoff: exponential, initial_s: 0.5}
    timeout_s: 600
  - id: explain
    uses: llm.chat
    needs: [lint, test]
    when: "steps.test.status == 'failed'"
    optional: true
    with:
      prompt: "Explain these failures: ${steps.test.outputs.report}"
"""

SPEC_JSON = json.dumps(
    {
        "steps": [
            {"uses": "ruff.check", "id": "lint", "with": {"paths": ["${params.target}"]}},
            {
                "id": "test",
                "uses": "pytest.run",
                "timeout_s": 600.0,
                "retry": {"initial_s": 0.5, "attempts": 2},
            },
            {
                "id": "explain",
                "uses": "llm.chat",
                "needs": ["lint", "test"],
                "when": "steps.test.status == 'failed'",
                "optional": True,
                "with": {"prompt": "Explain these failures: ${steps.test.outputs.report}"},
                "cache": None,
            },
        ],
        "params": {"target": {"default": "src", "description": ""}},
        "melody": {"name": "check", "description": "Lint and test, then explain failures"},
    },
    indent=1,
)


def parse(text: str, fmt: str = "toml") -> Melody:
    return parse_melody_text(text, fmt=fmt, source=f"check.{fmt}")


def problems(text: str, fmt: str = "toml") -> list[tuple[str | None, str]]:
    """(location, reason) of every error parsing ``text`` raises."""
    with pytest.raises(MelodyError) as info:
        parse(text, fmt)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.code == "melody.invalid"
    errors = error.errors if isinstance(error, MelodyErrors) else [error]
    for e in errors:
        assert e.source == f"check.{fmt}"
    return [(e.location, e.reason) for e in errors]


def one_problem(text: str, fmt: str = "toml") -> tuple[str | None, str]:
    found = problems(text, fmt)
    assert len(found) == 1, found
    return found[0]


HEAD = '[melody]\nname = "m"\n'


def test_spec_example_parses_with_defaults_filled_in() -> None:
    melody = parse(SPEC_TOML)
    assert melody.name == "check"
    assert melody.ids == ["lint", "test", "explain"]
    assert melody.params["target"].default == "src"
    lint, test, explain = melody.steps
    assert lint.with_ == {"paths": ["${params.target}"]}
    assert test.retry == RetrySpec(attempts=2, backoff="exponential", initial_s=0.5, max_s=60.0)
    assert test.timeout_s == 600.0
    assert lint.retry.attempts == 1
    assert explain.needs == ["lint", "test"]
    assert explain.optional is True
    assert explain.cache is None
    assert explain.when == "steps.test.status == 'failed'"
    assert melody.triggers.files == [] and melody.triggers.every_s is None
    assert melody.step("test") is test


def test_the_same_melody_in_toml_yaml_and_json_has_one_definition_hash() -> None:
    hashes = {parse(SPEC_TOML).definition_hash()}
    hashes.add(parse(SPEC_YAML, "yaml").definition_hash())
    hashes.add(parse(SPEC_JSON, "json").definition_hash())
    assert len(hashes) == 1
    assert len(next(iter(hashes))) == 64


def test_any_change_to_the_definition_changes_the_hash() -> None:
    base = parse(SPEC_TOML).definition_hash()
    assert parse(SPEC_TOML.replace("attempts = 2", "attempts = 3")).definition_hash() != base
    assert parse(SPEC_TOML.replace('"src"', '"lib"')).definition_hash() != base
    reordered = SPEC_TOML.replace('needs = ["lint", "test"]', 'needs = ["test", "lint"]')
    assert parse(reordered).definition_hash() != base


def test_dumped_with_file_keys_so_it_parses_back() -> None:
    melody = parse(SPEC_TOML)
    data = melody.model_dump(by_alias=True)
    assert "with" in data["steps"][0]
    assert Melody.model_validate(data) == melody


def test_models_are_frozen() -> None:
    melody = parse(SPEC_TOML)
    with pytest.raises(pydantic.ValidationError):
        melody.steps[0].uses = "other"  # type: ignore[misc]


def test_step_lookup_names_the_missing_step() -> None:
    with pytest.raises(KeyError, match="melody 'check' has no step 'deploy'"):
        parse(SPEC_TOML).step("deploy")


@pytest.mark.parametrize(
    ("fmt", "text", "fragment"),
    [
        ("toml", HEAD + '[[steps]]\nid = "a"\nuses = \n', "invalid TOML: "),
        ("json", '{"melody": {"name": "m"},\n "steps": [}', "invalid JSON: "),
        ("yaml", "melody:\n  name: m\nsteps:\n  - id: a\n   uses: x\n", "invalid YAML: "),
    ],
)
def test_syntax_errors_give_the_line_and_column(fmt: str, text: str, fragment: str) -> None:
    location, reason = one_problem(text, fmt)
    assert location is None
    assert reason.startswith(fragment)
    line = {"toml": 5, "json": 2, "yaml": 5}[fmt]
    assert f"line {line}, column " in reason


def test_an_unknown_key_names_the_step_and_suggests_the_known_one() -> None:
    text = HEAD + '[[steps]]\nid = "a"\nuses = "x"\n\n[[steps]]\nid = "b"\nuses = "x"\nneds = []\n'
    location, reason = one_problem(text)
    assert location == "steps[1] (b).neds"
    assert reason.startswith("unknown key; did you mean 'needs'? (known: id, uses, with, needs,")


def test_unknown_top_level_and_nested_keys() -> None:
    text = "colour = 1\n" + HEAD + '[[steps]]\nid = "a"\nuses = "x"\nretry = { attempt = 2 }\n'
    found = problems(text)
    assert found[0] == (
        "colour",
        "unknown key (known: melody, params, steps, triggers)",
    )
    assert found[1][0] == "steps[0] (a).retry.attempt"
    assert found[1][1].startswith("unknown key; did you mean 'attempts'?")


def test_wrong_values_say_what_is_expected_and_what_was_given() -> None:
    text = (
        HEAD
        + '[[steps]]\nid = "a"\nuses = "x"\n'
        + '[[steps]]\nid = "test"\nuses = "x"\n'
        + 'retry = { attempts = 0, backoff = "linear" }\ntimeout_s = "10"\noptional = 1\n'
    )
    assert problems(text) == [
        ("steps[1] (test).retry.attempts", "must be greater than or equal to 1 (got 0)"),
        ("steps[1] (test).retry.backoff", "must be 'fixed' or 'exponential' (got 'linear')"),
        ("steps[1] (test).timeout_s", "must be a number (got '10')"),
        ("steps[1] (test).optional", "must be true or false (got 1)"),
    ]


def test_a_table_where_a_table_belongs() -> None:
    location, reason = one_problem(HEAD + '[[steps]]\nid = "a"\nuses = "x"\nretry = 3\n')
    assert (location, reason) == ("steps[0] (a).retry", "must be a table (got 3)")
    location, reason = one_problem(HEAD + '[[steps]]\nid = "a"\nuses = "x"\nneeds = "b"\n')
    assert (location, reason) == ("steps[0] (a).needs", "must be a list (got 'b')")


def test_required_keys_and_at_least_one_step() -> None:
    assert problems('[melody]\ndescription = "x"\n') == [
        ("melody.name", "required key is missing"),
        ("steps", "required key is missing"),
    ]
    assert one_problem(json.dumps({"melody": {"name": "m"}, "steps": []}), "json") == (
        "steps",
        "a melody needs at least one step",
    )
    assert one_problem(HEAD + '[[steps]]\nid = "a"\n') == (
        "steps[0] (a).uses",
        "required key is missing",
    )


def test_step_ids_and_names_must_be_usable_in_references() -> None:
    location, reason = one_problem(HEAD + '[[steps]]\nid = "run tests"\nuses = "x"\n')
    assert location == "steps[0] (run tests).id"
    assert reason == (
        "a step id starts with a letter or '_' and holds only letters, digits, '_' and '-'"
        " (got 'run tests')"
    )
    location, reason = one_problem('[melody]\nname = "my melody"\n[[steps]]\nid="a"\nuses="x"\n')
    assert location == "melody.name"
    assert "(got 'my melody')" in reason
    location, reason = one_problem(HEAD + '[params]\n"a.b" = {}\n[[steps]]\nid="a"\nuses="x"\n')
    assert location == "params"
    assert reason.startswith("parameter name 'a.b' must start with a letter or '_'")


def test_parameters_are_consistent() -> None:
    steps = '[[steps]]\nid = "a"\nuses = "x"\n'
    location, reason = one_problem(
        HEAD + '[params]\nn = { type = "integer", default = "3" }\n' + steps
    )
    assert location == "params.n"
    assert reason == "default '3' is not of type integer"
    location, reason = one_problem(
        HEAD + "[params]\nn = { required = true, default = 3 }\n" + steps
    )
    assert (location, reason) == ("params.n", "a required parameter cannot have a default")
    location, reason = one_problem(HEAD + '[params]\nn = { type = "text" }\n' + steps)
    assert location == "params.n.type"
    assert reason.startswith("must be 'string', 'integer', 'number',")


def test_values_must_be_plain_data() -> None:
    text = HEAD + '[[steps]]\nid = "a"\nuses = "x"\nwith = { when = 2024-01-01, n = [1, 2] }\n'
    location, reason = one_problem(text)
    assert location == "steps[0] (a).with"
    assert reason.startswith("dates and times are not supported; quote the value (at when)")
    yaml_text = "melody: {name: m}\nsteps:\n  - id: a\n    uses: x\n    with: {x: {1: y}}\n"
    location, reason = one_problem(yaml_text, "yaml")
    assert location == "steps[0] (a).with"
    assert reason.startswith("keys must be strings, got 1 (at x)")


def test_retry_bounds_are_consistent() -> None:
    text = HEAD + '[[steps]]\nid = "a"\nuses = "x"\nretry = { initial_s = 10, max_s = 5 }\n'
    location, reason = one_problem(text)
    assert location == "steps[0] (a).retry"
    assert reason == "max_s (5.0) must not be less than initial_s (10.0)"


def test_empty_and_non_table_files() -> None:
    assert one_problem("", "yaml") == (
        None,
        "the melody is empty: it needs a [melody] table and steps",
    )
    assert one_problem("# nothing\n") == (
        None,
        "the melody is empty: it needs a [melody] table and steps",
    )
    assert one_problem("[1, 2]", "json") == (None, "top level must be a table, got list")


def test_unsupported_format() -> None:
    with pytest.raises(MelodyError, match=r"unsupported melody format '\.ini'"):
        parse_melody_text("x", fmt=".ini", source="m.ini")


def test_error_message_is_file_location_reason_and_several_are_kept_in_file_order() -> None:
    text = HEAD + '[[steps]]\nid = "a"\nuses = "x"\ntimeout_s = 0\nretry = { attempts = 0 }\n'
    with pytest.raises(MelodyErrors) as info:
        parse(text)
    error = info.value
    assert isinstance(error, SymphonyError)
    assert len(error.errors) == 2
    assert error.message.splitlines() == [
        "check.toml: steps[0] (a).timeout_s: must be greater than 0 (got 0)",
        "check.toml: steps[0] (a).retry.attempts: must be greater than or equal to 1 (got 0)",
    ]
    assert error.errors[1].to_dict() == {
        "file": "check.toml",
        "location": "steps[0] (a).retry.attempts",
        "reason": "must be greater than or equal to 1 (got 0)",
    }


# -- files ----------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reads_each_format_by_suffix(tmp_path: Path) -> None:
    for name, text in (("a.toml", SPEC_TOML), ("b.yaml", SPEC_YAML), ("c.json", SPEC_JSON)):
        melody = load_melody(write(tmp_path / name, text))
        assert melody.name == "check"


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", HEAD + '[[steps]]\nid = "a"\nuses = "x"\nneds = []\n')
    with pytest.raises(MelodyError) as info:
        load_melody(path)
    assert str(info.value).startswith(f"{path}: steps[0] (a).neds: unknown key")
    with pytest.raises(MelodyError) as info:
        load_melody(path, source="shown.toml")
    assert info.value.source == "shown.toml"
    with pytest.raises(MelodyError, match="cannot read: No such file or directory"):
        load_melody(tmp_path / "missing.toml")
    (tmp_path / "latin.toml").write_bytes(b'[melody]\nname = "\xe9"\n')
    with pytest.raises(MelodyError, match="not UTF-8 text"):
        load_melody(tmp_path / "latin.toml")


def test_find_by_name_or_path_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / MELODY_DIR
    check = write(folder / "check.toml", SPEC_TOML)
    write(folder / "deploy.yml", SPEC_YAML)
    write(folder / "notes.txt", "not a melody")
    assert list_melodies(tmp_path) == [check, folder / "deploy.yml"]
    assert find_melody(tmp_path, "check") == check
    assert find_melody(tmp_path, "deploy") == folder / "deploy.yml"
    # A path is taken as given, relative to the current folder or else to the workspace.
    monkeypatch.chdir(tmp_path)
    assert find_melody(tmp_path, f"{MELODY_DIR}/check.toml") == Path(f"{MELODY_DIR}/check.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert find_melody(tmp_path, f"{MELODY_DIR}/check.toml") == check
    assert find_melody(tmp_path, str(check)) == check
    # A bare file name is also looked for in the melodies folder.
    assert find_melody(tmp_path, "deploy.yml") == folder / "deploy.yml"


def test_a_missing_melody_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"no melody named 'check' \(.symphony/melodies has none\)"
    ):
        find_melody(tmp_path, "check")
    write(tmp_path / MELODY_DIR / "lint.toml", SPEC_TOML)
    write(tmp_path / MELODY_DIR / "test.json", SPEC_JSON)
    with pytest.raises(UsageError, match=r"no melody named 'chek' \(available: lint, test\)"):
        find_melody(tmp_path, "chek")
    with pytest.raises(UsageError, match=r"nope\.toml: no such file"):
        find_melody(tmp_path, "nope.toml")
    with pytest.raises(UsageError, match="not a file"):
        find_melody(tmp_path, str(tmp_path / MELODY_DIR) + "/")


def test_two_files_with_one_name_are_an_error(tmp_path: Path) -> None:
    write(tmp_path / MELODY_DIR / "check.toml", SPEC_TOML)
    write(tmp_path / MELODY_DIR / "check.yaml", SPEC_YAML)
    with pytest.raises(UsageError) as info:
        find_melody(tmp_path, "check")
    assert str(info.value) == (
        "melody 'check' is defined by 2 files in .symphony/melodies (check.toml, check.yaml);"
        " keep one"
    )
