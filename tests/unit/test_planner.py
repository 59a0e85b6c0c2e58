"""Rule-based planning for ``symphony ask``: what a request is understood as, and the melody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.conductor.planner import Intent, classify, plan
from engine.extensions.discovery import discover
from engine.extensions.manifest import StepTypeSpec
from engine.melody import Dag, resolve, validate


def builtin_step_types() -> dict[str, StepTypeSpec]:
    types: dict[str, StepTypeSpec] = {}
    for found in discover([], packages=False):
        assert found.manifest is not None, found.error
        for s in found.manifest.contributes.steps:
            types.setdefault(s.type, s)
    return types


TYPES = builtin_step_types()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "core.py").write_text("x = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_core.py").write_text("def test_x(): pass\n")
    (tmp_path / "README.md").write_text("hi\n")
    return tmp_path


def names(request: str, workspace: Path | None = None) -> set[str]:
    return {i.name for i in classify(request, workspace=workspace)}


def intent(request: str, name: str, workspace: Path | None = None) -> Intent:
    return next(i for i in classify(request, workspace=workspace) if i.name == name)


def steps(request: str, workspace: Path, **kw: Any) -> dict[str, Any]:
    p = plan(request, workspace=workspace, step_types=TYPES, **kw)
    assert p.melody is not None, p.unsupported
    return {s.id: s for s in p.melody.steps}


# --- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ("run the tests", {"test"}),
        ("Run The Unit Tests", {"test"}),
        ("pytest please", {"test"}),
        ("is the test suite green?", {"test"}),
        ("check my code", {"test"}),
        ("lint", {"lint"}),
        ("run ruff", {"lint"}),
        ("check the code style", {"lint"}),
        ("ruff check", {"lint"}),
        ("autofix everything", {"fix"}),
        ("format the code", {"fix"}),
        ("fix lint errors", {"fix", "lint"}),
        ("explain this module", {"explain"}),
        ("why do the tests fail", {"explain", "test"}),
        ("why don't the tests pass?", {"explain", "test"}),
        ("search for 'TODO'", {"search"}),
        ("grep for parse_config", {"search"}),
        ("where is parse_config defined", {"search"}),
        ("find usages of Engine", {"search"}),
        ("find TODO", {"search"}),
        ("review my changes", {"review"}),
        ("what changed?", {"review"}),
        ("show the diff", {"diff"}),
        ("git status", {"status"}),
        ("any untracked files?", {"status"}),
        ("run the tests and lint", {"test", "lint"}),
        ("lint, then run the tests", {"test", "lint"}),
        ("fix, lint and test", {"fix", "lint", "test"}),
        ("show the diff and the git status", {"diff", "status"}),
    ],
)
def test_phrasings(request_: str, expected: set[str]) -> None:
    assert names(request_) == expected


@pytest.mark.parametrize(
    "request_", ["", "   ", "make me a sandwich", "hello world", "deploy to production"]
)
def test_unknown_requests_have_no_intents(request_: str) -> None:
    assert classify(request_) == []


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ("run the tests but don't lint", {"test"}),
        ("lint without the tests", {"lint"}),
        ("do not run the tests, just lint", {"lint"}),
        ("skip lint and run pytest", {"test"}),
    ],
)
def test_negated_cues_do_not_count(request_: str, expected: set[str]) -> None:
    assert names(request_) == expected


def test_weak_cues_yield_to_strong_ones() -> None:
    assert names("check the diff") == {"diff"}  # "check" alone would mean the tests
    assert names("show the test status") == {"test"}  # "status" alone would mean git status
    assert names("lint my changes") == {"lint"}
    assert names("find the failing tests") == {"test"}  # a bare "find" is not a search here


def test_scores_and_matched_words() -> None:
    (i,) = classify("run the unit tests with pytest")
    assert i.name == "test"
    assert i.matched == ("unit tests", "tests", "pytest")  # request order, no repeats
    assert i.score == 1.0
    (weak,) = classify("check it")
    assert weak.score < 0.5
    ranked = classify("lint and run the unit tests")
    assert [i.name for i in ranked] == ["test", "lint"]  # more evidence first


def test_paths_are_kept_only_when_they_exist(ws: Path) -> None:
    lint = intent("lint src/pkg and nowhere/else.py", "lint", ws)
    assert lint.paths == ("src/pkg",)
    assert intent("lint src/pkg", "lint").paths == ()  # no workspace, no paths
    assert intent(f"lint {ws / 'README.md'}", "lint", ws).paths == ("README.md",)
    assert intent("lint ../outside", "lint", ws).paths == ()
    assert intent("lint 'src/pkg/core.py'.", "lint", ws).paths == ("src/pkg/core.py",)


def test_keywords_that_name_folders_are_not_paths(ws: Path) -> None:
    # "tests" exists as a folder, but here it is the word for running them.
    assert intent("run the tests", "test", ws).paths == ()
    assert intent("run the tests in tests/test_core.py", "test", ws).paths == (
        "tests/test_core.py",
    )


def test_paths_belong_to_their_clause(ws: Path) -> None:
    found = {i.name: i.paths for i in classify("run the tests and lint src", workspace=ws)}
    assert found == {"test": (), "lint": ("src",)}
    # A clause that is one keyword shares the paths of the clause after it.
    found = {i.name: i.paths for i in classify("fix, lint and test src", workspace=ws)}
    assert found == {"fix": ("src",), "lint": ("src",), "test": ("src",)}


def test_a_test_file_alone_means_running_it(ws: Path) -> None:
    found = {i.name: i for i in classify("run tests/test_core.py and lint", workspace=ws)}
    assert set(found) == {"test", "lint"}
    assert found["test"].paths == ("tests/test_core.py",)
    assert found["lint"].paths == ()
    assert classify("lint tests/test_core.py", workspace=ws)[0].name == "lint"


@pytest.mark.parametrize(
    ("request_", "query"),
    [
        ("search for 'TODO'", "TODO"),
        ('search for "open file" please', "open file"),
        ("grep `foo(bar` in the code", "foo(bar"),
        ("grep for parse_config and run the tests", "parse_config"),
        ("search for the word deprecated", "deprecated"),
        ("where is load_config defined", "load_config"),
        ("find usages of Engine.start", "Engine.start"),
        ("look for test helpers", "test helpers"),
        ("don't stop: search for it's", "it's"),
    ],
)
def test_search_queries(request_: str, query: str) -> None:
    assert intent(request_, "search").query == query


def test_search_words_are_not_other_intents() -> None:
    assert names("search for test helpers") == {"search"}
    assert names("grep 'lint' and run the tests") == {"search", "test"}


def test_search_with_a_location(ws: Path) -> None:
    i = intent("search for 'x = 1' in src", "search", ws)
    assert (i.query, i.paths) == ("x = 1", ("src",))


# --- plans ---------------------------------------------------------------------------------


def test_plan_for_tests_and_lint(ws: Path) -> None:
    p = plan("run the tests and lint", workspace=ws, step_types=TYPES)
    assert p.melody is not None
    assert p.melody.name == "ask"
    assert [(s.id, s.uses, s.needs) for s in p.melody.steps] == [
        ("lint", "ruff.check", []),
        ("test", "pytest.run", ["lint"]),
    ]
    assert p.melody.step("lint").with_ == {"paths": ["."]}
    assert p.melody.step("test").with_ == {"paths": []}  # pytest's own configuration decides
    assert "lint ('lint'" in p.rationale and "test ('tests'" in p.rationale
    assert p.unsupported == []
    assert validate(p.melody, source="<ask>", step_types=TYPES) == []


def test_fix_comes_first_and_is_the_only_writer(ws: Path) -> None:
    s = steps("fix, lint and test src", ws)
    assert list(s) == ["fix", "lint", "test"]
    assert s["fix"].with_ == {"paths": ["src"], "fix": True}
    assert s["lint"].needs == ["fix"] and s["test"].needs == ["fix", "lint"]
    assert "fix" not in s["lint"].with_
    melody = plan("fix, lint and test", workspace=ws, step_types=TYPES).melody
    assert melody is not None
    order = Dag.from_melody(melody).order
    assert order.index("fix") < order.index("lint") < order.index("test")


@pytest.mark.parametrize(
    "request_",
    [
        "run the tests and lint",
        "review my changes",
        "git status",
        "show the diff",
        "search for 'TODO'",
        "where is core",
        "fix, lint and test",
        "why do the tests fail",
    ],
)
def test_plans_never_commit_or_write_files(ws: Path, request_: str) -> None:
    p = plan(request_, workspace=ws, step_types=TYPES)
    assert p.melody is not None
    for s in p.melody.steps:
        assert s.uses not in ("git.commit", "fs.write", "python.call")
        assert s.with_.get("fix") is not True or s.id == "fix"
    assert validate(p.melody, source="<ask>", step_types=TYPES) == []


def test_review_is_status_and_diff(ws: Path) -> None:
    s = steps("review my changes in src", ws)
    assert {k: v.uses for k, v in s.items()} == {"status": "git.status", "diff": "git.diff"}
    assert s["diff"].with_ == {"files": ["src"]}
    assert list(steps("show the diff", ws)) == ["diff"]
    assert list(steps("git status", ws)) == ["status"]


def test_search_plan_uses_glob_and_grep(ws: Path) -> None:
    s = steps("search for 'parse_config'", ws)
    assert s["find_files"].uses == "fs.glob"
    assert s["find_files"].with_ == {"pattern": "**/*parse_config*"}
    grep = s["grep"]
    assert grep.uses == "shell.run" and grep.with_["check"] is False
    command = grep.with_["command"]
    assert command.startswith("grep -rn")
    assert "--exclude-dir=.git" in command and "--exclude-dir=.symphony" in command
    assert command.endswith("-e parse_config -- .")


def test_search_plan_quotes_the_query_for_the_shell_and_the_melody(ws: Path) -> None:
    s = steps('search for "it\'s ${params.x}; rm -rf /" in src', ws)
    assert "find_files" not in s  # spaces: not a file name
    resolved = resolve(dict(s["grep"].with_), params={}, steps={})
    assert resolved["command"].endswith("-e 'it'\"'\"'s ${params.x}; rm -rf /' -- src")


def test_search_plan_with_a_glob_query(ws: Path) -> None:
    s = steps("find '*.py' in src", ws)
    assert s["find_files"].with_ == {"pattern": "src/**/*.py"}


def test_search_without_a_query_is_unsupported(ws: Path) -> None:
    p = plan("search", workspace=ws, step_types=TYPES)
    assert p.melody is None
    assert "quote it" in p.unsupported[0]


def test_explain_needs_a_model(ws: Path) -> None:
    p = plan("explain src/pkg/core.py", workspace=ws, step_types=TYPES)
    assert p.melody is None
    assert [i.name for i in p.intents] == ["explain"]
    assert "needs an AI model; none is configured" in p.unsupported[0]
    assert "aide.models" in p.unsupported[0]
    configured = plan("explain this", workspace=ws, step_types=TYPES, models=["local"])
    assert "local" in configured.unsupported[0]
    assert "none is configured" not in configured.unsupported[0]


def test_explain_with_tests_runs_the_tests(ws: Path) -> None:
    p = plan("why do the tests fail", workspace=ws, step_types=TYPES)
    assert p.melody is not None and p.melody.ids == ["test"]
    assert len(p.unsupported) == 1 and p.unsupported[0].startswith("explain")


def test_missing_step_types_are_reported(ws: Path) -> None:
    types = {k: v for k, v in TYPES.items() if k != "pytest.run"}
    p = plan("run the tests and lint", workspace=ws, step_types=types)
    assert p.melody is not None and p.melody.ids == ["lint"]
    assert "pytest.run" in p.unsupported[0] and "symphony ext list" in p.unsupported[0]
    none = plan("run the tests", workspace=ws, step_types={})
    assert none.melody is None and "pytest.run" in none.unsupported[0]


def test_unknown_request_plans_nothing(ws: Path) -> None:
    p = plan("make me a sandwich", workspace=ws, step_types=TYPES)
    assert (p.melody, p.intents, p.unsupported) == (None, (), [])


def test_plan_as_data(ws: Path) -> None:
    data = plan("lint src", workspace=ws, step_types=TYPES).to_dict()
    assert data["steps"] == [
        {"id": "lint", "uses": "ruff.check", "with": {"paths": ["src"]}, "needs": []}
    ]
    assert data["intents"][0]["name"] == "lint" and data["intents"][0]["paths"] == ["src"]


def test_pytest_node_ids(ws: Path) -> None:
    s = steps("run tests/test_core.py::test_x", ws)
    assert s["test"].with_ == {"paths": ["tests/test_core.py::test_x"]}
    s = steps("lint tests/test_core.py::test_x", ws)
    assert s["lint"].with_ == {"paths": ["tests/test_core.py"]}  # ruff gets the file
    assert intent("pytest tests/nope.py::test_x", "test", ws).paths == ()
