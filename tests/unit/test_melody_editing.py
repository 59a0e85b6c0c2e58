"""MelodyDocument: byte-exact round trips, comments kept, each edit and each refusal, saving
(stale files, atomic writes), and random edit sequences checked against the real loader."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.extensions.discovery import discover
from engine.extensions.manifest import StepTypeSpec
from engine.melody.dag import find_cycle, step_dependencies
from engine.melody.editing import (
    EditCycleError,
    MelodyDocument,
    MelodyEditError,
    StaleFileError,
    suggest_step_id,
)
from engine.melody.loader import load_melody
from engine.melody.model import Melody

SOURCE = """\
# The check melody
[melody]
name = "check"  # run it with `symphony run check`

[params]
target = { default = "src" }

# lint first
[[steps]]
id = "lint"
uses = "ruff.check"                 # a step type
with = { paths = ["${params.target}"] }

# then the tests
[[steps]]
id = "test"
uses = "pytest.run"
needs = ["lint"]
timeout_s = 600

# say what failed
[[steps]]
id = "report"
uses = "shell.run"
needs = ["lint", "test"]  # both
when = "steps.test.status == 'failed'"
[steps.with]
command = "echo '${steps.test.outputs.summary}'"  # the summary
cwd = "."
"""


def builtin_step_types() -> dict[str, StepTypeSpec]:
    return {
        step.type: step
        for found in discover([], packages=False)
        if found.manifest is not None
        for step in found.manifest.contributes.steps
    }


TYPES = builtin_step_types()


@pytest.fixture
def melody_file(tmp_path: Path) -> Path:
    path = tmp_path / "check.toml"
    path.write_text(SOURCE, encoding="utf-8")
    return path


def load(path: Path) -> MelodyDocument:
    return MelodyDocument.load(path, step_types=TYPES)


def test_round_trip_without_edits_is_byte_exact(tmp_path: Path) -> None:
    for name, text in [
        ("a.toml", SOURCE),
        ("crlf.toml", SOURCE.replace("\n", "\r\n")),
        (
            "b.json",
            json.dumps(
                {
                    "melody": {"name": "b"},
                    "steps": [{"id": "x", "uses": "shell.run", "with": {"command": "ls"}}],
                },
                indent=4,
            ),
        ),
        (
            "c.yaml",
            "# a comment\nmelody: {name: c}\nsteps:\n"
            "  - {id: x, uses: shell.run, with: {command: ls}}\n",
        ),
    ]:
        path = tmp_path / name
        path.write_bytes(text.encode())
        doc = load(path)
        assert doc.text() == text
        assert not doc.modified
        doc.save()
        assert path.read_bytes() == text.encode()


def test_edits_keep_comments_and_untouched_lines(melody_file: Path) -> None:
    doc = load(melody_file)
    doc.add_step("fmt", "shell.run", with_={"command": "ruff format"}, needs=["lint"], after="lint")
    doc.connect("fmt", "report")
    doc.set_with("report", {"command": "echo '${steps.test.outputs.summary}'", "check": False})
    text = doc.text()
    for kept in [
        "# The check melody",
        'name = "check"  # run it with `symphony run check`',
        'uses = "ruff.check"                 # a step type',
        'with = { paths = ["${params.target}"] }',
        "# then the tests",
        "command = \"echo '${steps.test.outputs.summary}'\"  # the summary",
        "# both",
    ]:
        assert kept in text, kept
    # The comment above a header stays above it when a step is inserted before it.
    assert text.index("# then the tests") < text.index('id = "test"')
    assert text.index('id = "fmt"') < text.index("# then the tests")
    assert 'with = { command = "ruff format" }' in text
    assert 'cwd = "."' not in text
    doc.save()
    melody = load_melody(melody_file)
    assert melody.ids == ["lint", "fmt", "test", "report"]
    assert melody.step("report").needs == ["lint", "test", "fmt"]
    assert melody.step("report").with_ == {
        "command": "echo '${steps.test.outputs.summary}'",
        "check": False,
    }


def test_remove_step_takes_it_out_of_needs_and_keeps_the_next_comment(melody_file: Path) -> None:
    doc = load(melody_file)
    doc.set_with("report", {"command": "echo done"})
    doc.set_with("lint", {})
    doc.add_step("docs", "shell.run", with_={"command": "make docs"}, needs=["lint"])
    assert doc.remove_step("lint") == ["test", "report", "docs"]
    text = doc.text()
    assert "# lint first" not in text and 'id = "lint"' not in text
    assert text.index("# then the tests") < text.index('id = "test"')
    assert doc.melody.step("report").needs == ["test"]
    assert "needs" not in text.split('id = "test"')[1].split("[[steps]]")[0]


def test_remove_refuses_when_values_read_the_step(melody_file: Path) -> None:
    doc = load(melody_file)
    with pytest.raises(MelodyEditError) as e:
        doc.remove_step("test")
    message = str(e.value)
    assert "cannot remove step 'test'" in message
    assert "report.with.command (${steps.test.outputs.summary})" in message
    assert "report.when (steps.test.status == 'failed')" in message
    assert doc.text() == SOURCE
    with pytest.raises(MelodyEditError, match="no step 'nope' \\(steps: lint, test, report\\)"):
        doc.remove_step("nope")


def test_connect_refuses_cycles_naming_the_path(melody_file: Path) -> None:
    doc = load(melody_file)
    with pytest.raises(EditCycleError) as e:
        doc.connect("report", "lint")
    assert e.value.path == ["lint", "report", "lint"]
    assert "would close a cycle: lint → report → lint" in str(e.value)
    doc.add_step("a", "shell.run", with_={"command": "a"}, needs=["report"])
    with pytest.raises(EditCycleError, match="test → a → report → test"):
        doc.connect("a", "test")
    assert doc.melody.step("test").needs == ["lint"]


def test_connect_and_disconnect_refusals(melody_file: Path) -> None:
    doc = load(melody_file)
    before = doc.text()
    with pytest.raises(MelodyEditError, match="'test' already needs 'lint'"):
        doc.connect("lint", "test")
    with pytest.raises(MelodyEditError, match="cannot need itself"):
        doc.connect("lint", "lint")
    with pytest.raises(MelodyEditError, match="'lint' does not need 'test'"):
        doc.disconnect("test", "lint")
    doc.disconnect("test", "report")  # still depends on it through with and when
    with pytest.raises(MelodyEditError, match=r"through report\.with\.command"):
        doc.disconnect("test", "report")
    with pytest.raises(MelodyEditError, match="already depends on 'test' through"):
        doc.connect("test", "report")
    assert doc.text() != before
    doc.disconnect("lint", "test")
    assert "needs" not in doc.melody.step("test").model_fields_set
    assert "needs" not in doc.text().split('id = "test"')[1].split("[[steps]]")[0]


def test_invalid_edits_leave_the_document_unchanged(melody_file: Path) -> None:
    doc = load(melody_file)
    cases: list[tuple[Callable[[], object], str]] = [
        (
            lambda: doc.add_step("lint", "shell.run"),
            "step id 'lint' is already used \\(try 'lint-2'\\)",
        ),
        (lambda: doc.add_step("9x", "shell.run"), "is not a step id"),
        (
            lambda: doc.add_step("x", "shell.run"),
            "required input 'command' of shell.run is missing",
        ),
        (lambda: doc.add_step("x", "no.such", with_={}), "unknown step type 'no.such'"),
        (lambda: doc.set_with("lint", {"paths": 3}), "input 'paths' of ruff.check must be array"),
        (lambda: doc.set_with("lint", {"pathz": []}), "unknown input 'pathz'"),
        (
            lambda: doc.add_step("x", "shell.run", with_={"command": "${steps.nope.status}"}),
            "unknown step 'nope'",
        ),
        (lambda: doc.add_step("x", "shell.run", needs=["nope"]), "no step 'nope'"),
    ]
    for edit, message in cases:
        with pytest.raises(MelodyEditError, match=message):
            edit()
        assert doc.text() == SOURCE
        assert not doc.modified
    only = MelodyDocument(
        '[melody]\nname = "m"\n[[steps]]\nid = "a"\nuses = "shell.run"\nwith = { command = "x" }\n',
        fmt="toml",
        step_types=TYPES,
    )
    with pytest.raises(MelodyEditError, match="a melody needs at least one step"):
        only.remove_step("a")


def test_existing_problems_do_not_block_other_edits(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[melody]\nname = "m"\n\n[[steps]]\nid = "a"\nuses = "gone.step"\n')
    doc = load(path)
    doc.add_step("b", "shell.run", with_={"command": "ls"}, after="a")
    doc.connect("a", "b")
    assert doc.melody.ids == ["a", "b"]


def test_suggest_ids() -> None:
    assert suggest_step_id("pytest.run", []) == "pytest"
    assert suggest_step_id("git.diff", []) == "diff"
    assert suggest_step_id("test", ["test", "test-2"]) == "test-3"
    assert suggest_step_id("test-2", ["test-2"]) == "test-3"
    assert suggest_step_id("1 bad", []) == "step-1-bad"


def test_save_refuses_a_file_changed_on_disk(melody_file: Path) -> None:
    doc = load(melody_file)
    doc.set_with("lint", {"paths": ["src"]})
    melody_file.write_text(SOURCE + "\n# someone else\n")
    assert doc.changed_on_disk()
    with pytest.raises(StaleFileError, match=r"changed on disk since it was loaded.*force=True"):
        doc.save()
    assert melody_file.read_text().endswith("# someone else\n")
    doc.save(force=True)
    assert load_melody(melody_file).step("lint").with_ == {"paths": ["src"]}
    assert not doc.changed_on_disk()
    melody_file.unlink()
    with pytest.raises(StaleFileError, match="was deleted"):
        doc.save()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_failed_save_leaves_the_old_file_intact(melody_file: Path) -> None:
    doc = load(melody_file)
    doc.set_with("lint", {"paths": ["src"]})
    folder = melody_file.parent
    folder.chmod(0o500)
    try:
        with pytest.raises(MelodyEditError, match="cannot save"):
            doc.save()
    finally:
        folder.chmod(0o700)
    assert melody_file.read_text() == SOURCE
    assert sorted(p.name for p in folder.iterdir()) == ["check.toml"]
    assert doc.modified


def test_failed_save_as_root_leaves_the_old_file_intact(
    melody_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with a write that fails half-way (root ignores folder permissions)."""
    doc = load(melody_file)
    doc.set_with("lint", {"paths": ["src"]})
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(MelodyEditError, match="cannot save: No space left on device"):
        doc.save()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert melody_file.read_text() == SOURCE
    assert sorted(p.name for p in melody_file.parent.iterdir()) == ["check.toml"]


def test_yaml_is_lossy_and_json_keeps_its_indent(tmp_path: Path) -> None:
    yml = tmp_path / "m.yaml"
    yml.write_text(
        "# comment\nmelody: {name: m}\nsteps:\n  - {id: a, uses: shell.run, with: {command: ls}}\n"
    )
    doc = load(yml)
    assert doc.lossy and "comments" in doc.loss_note
    doc.add_step("b", "shell.run", with_={"command": "pwd"}, needs=["a"])
    with pytest.raises(MelodyEditError, match="accept_loss=True"):
        doc.save()
    doc.save(accept_loss=True)
    assert load_melody(yml).step("b").needs == ["a"]
    js = tmp_path / "m.json"
    js.write_text(
        json.dumps(
            {
                "melody": {"name": "m"},
                "steps": [{"id": "a", "uses": "shell.run", "with": {"command": "ls"}}],
            },
            indent=4,
        )
    )
    doc = load(js)
    assert not doc.lossy
    doc.add_step("b", "shell.run", with_={"command": "pwd"}, needs=["a"])
    doc.save()
    assert '\n    "steps": [' in js.read_text()
    assert list(json.loads(js.read_text())["steps"][1]) == ["id", "uses", "needs", "with"]


def test_inline_steps_array(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        'steps = [{ id = "a", uses = "shell.run", with = { command = "ls" } }]  # one\n'
        '[melody]\nname = "m"\n'
    )
    doc = load(path)
    doc.add_step("b", "shell.run", with_={"command": "pwd"}, needs=["a"])
    doc.disconnect("a", "b")
    doc.connect("a", "b")
    assert "# one" in doc.text()
    doc.save()
    assert load_melody(path).step("b").needs == ["a"]


# -- random edit sequences -------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "e", "lint", "test"])
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), NAMES, TEXT, st.lists(NAMES, max_size=2), st.none() | NAMES),
        st.tuples(st.just("remove"), NAMES),
        st.tuples(st.just("connect"), NAMES, NAMES),
        st.tuples(st.just("disconnect"), NAMES, NAMES),
        st.tuples(st.just("set"), NAMES, TEXT, st.booleans()),
    ),
    max_size=12,
)


def expect(steps: list[dict[str, Any]], op: tuple[Any, ...]) -> list[dict[str, Any]] | None:
    """The steps after ``op`` as plain data, or None when the edit must be refused."""
    ids = [s["id"] for s in steps]
    new = [dict(s, needs=list(s.get("needs", []))) for s in steps]
    by_id = {s["id"]: s for s in new}
    kind = op[0]
    if kind == "add":
        _, id_, command, needs, after = op
        needs = list(dict.fromkeys(needs))
        if (
            id_ in ids
            or any(n not in ids for n in needs)
            or (after is not None and after not in ids)
        ):
            return None
        at = len(new) if after is None else ids.index(after) + 1
        new.insert(
            at, {"id": id_, "uses": "shell.run", "needs": needs, "with": {"command": command}}
        )
    elif kind == "remove":
        if op[1] not in ids or len(ids) == 1:
            return None
        new = [s for s in new if s["id"] != op[1]]
        for s in new:
            s["needs"] = [n for n in s["needs"] if n != op[1]]
    elif kind == "connect":
        up, down = op[1], op[2]
        if up not in ids or down not in ids or up == down or up in by_id[down]["needs"]:
            return None
        by_id[down]["needs"].append(up)
        if find_cycle([s["id"] for s in new], {s["id"]: s["needs"] for s in new}):
            return None
    elif kind == "disconnect":
        up, down = op[1], op[2]
        if down not in ids or up not in ids or up not in by_id[down]["needs"]:
            return None
        by_id[down]["needs"].remove(up)
    else:
        _, id_, command, check = op
        if id_ not in ids:
            return None
        by_id[id_]["with"] = {"command": command, "check": check}
    return new


def apply(doc: MelodyDocument, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "add":
        doc.add_step(op[1], "shell.run", with_={"command": op[2]}, needs=op[3], after=op[4])
    elif kind == "remove":
        doc.remove_step(op[1])
    elif kind == "connect":
        doc.connect(op[1], op[2])
    elif kind == "disconnect":
        doc.disconnect(op[1], op[2])
    else:
        doc.set_with(op[1], {"command": op[2], "check": op[3]})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, suffix=st.sampled_from([".toml", ".json", ".yaml"]))
def test_random_edits_match_the_model(
    tmp_path: Path, ops: list[tuple[Any, ...]], suffix: str
) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_text(
        '# header\n[melody]\nname = "r"\n\n# the first step\n[[steps]]\nid = "a"\n'
        'uses = "shell.run"\nwith = { command = "ls" }  # list\n'
    )
    if suffix != ".toml":
        data = {
            "melody": {"name": "r"},
            "steps": [{"id": "a", "uses": "shell.run", "with": {"command": "ls"}}],
        }
        path.write_text(json.dumps(data) if suffix == ".json" else json.dumps(data, indent=2))
    steps: list[dict[str, Any]] = [
        {"id": "a", "uses": "shell.run", "needs": [], "with": {"command": "ls"}}
    ]
    doc = load(path)
    for op in ops:
        wanted = expect(steps, op)
        before = doc.text()
        if wanted is None:
            with pytest.raises(MelodyEditError):
                apply(doc, op)
            assert doc.text() == before
        else:
            apply(doc, op)
            steps = wanted
    doc.save(accept_loss=True)
    loaded = load_melody(path)
    expected = Melody.model_validate({"melody": {"name": "r"}, "steps": steps})
    assert loaded.model_dump() == expected.model_dump()
    assert [step_dependencies(s) for s in loaded.steps] == [s["needs"] for s in steps]
    if suffix == ".toml":
        assert doc.text().startswith("# header\n")
        # The comment on step a's `with` line lives as long as step a.
        if not any(o[:2] == ("remove", "a") for o in ops):
            assert "# list" in doc.text()
