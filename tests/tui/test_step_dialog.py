"""StepDialog and SchemaForm driven by keys: pick a step type by filtering, fill its form,
refuse an invalid integer, return typed values, edit a step with its values prefilled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.widgets import Checkbox, Input, Select, TextArea

from engine.extensions.discovery import discover
from engine.extensions.messages import StepTypeInfo
from symphony_tui.screens.step_dialog import StepDialog, StepDialogResult, filter_step_types
from symphony_tui.themes import textual_themes
from symphony_tui.widgets.schema_form import SchemaForm


def builtin_types() -> list[StepTypeInfo]:
    """StepTypeInfo for every built-in step type, as ListStepTypes builds it."""
    found: dict[str, StepTypeInfo] = {}
    for ext in discover([], packages=False):
        if ext.manifest is None:
            continue
        for spec in ext.manifest.contributes.steps:
            found.setdefault(
                spec.type,
                StepTypeInfo(
                    type=spec.type,
                    title=spec.title,
                    description=spec.description,
                    providers=(ext.manifest.id,),
                    input_schema=spec.input_schema(),
                    outputs=tuple(spec.outputs),
                ),
            )
    return [found[k] for k in sorted(found)]


class Host(App[None]):
    """Shows one dialog over an empty screen, with the real symphony-dark theme."""

    def __init__(self, dialog: StepDialog, root: Path) -> None:
        super().__init__()
        self.dialog = dialog
        self.root = root
        self.results: list[StepDialogResult | None] = []

    def on_mount(self) -> None:
        themes, _errors = textual_themes(self.root, self.root / "user")
        for theme in themes:
            self.register_theme(theme)
        self.theme = "symphony-dark"
        self.push_screen(self.dialog, self.results.append)


def form_of(app: Host) -> SchemaForm:
    return app.dialog.query_one(SchemaForm)


def test_filter_matches_every_word() -> None:
    types = builtin_types()
    assert [t.type for t in filter_step_types(types, "shell")] == ["shell.run"]
    assert "git.diff" in [t.type for t in filter_step_types(types, "GIT diff")]
    assert filter_step_types(types, "no-such-thing") == []


async def test_pick_by_filter_fill_and_ok(tmp_path: Path) -> None:
    app = Host(StepDialog(builtin_types(), taken_ids={"glob"}), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"fs glob")
        await pilot.press("enter")
        await pilot.pause()
        assert app.dialog.chosen is not None and app.dialog.chosen.type == "fs.glob"
        id_input = app.dialog.query_one("#step-id", Input)
        assert id_input.value == "glob-2"  # "glob" is taken
        form = form_of(app)
        names = [f.field_name for f in form.fields]
        assert "limit" in names and "pattern" in names
        form.field("pattern").input_widget.focus()
        await pilot.press(*"src/**/*.py")
        form.field("limit").input_widget.focus()
        await pilot.press(*"3.5")
        await pilot.pause()
        limit = form.field("limit")
        error = limit.query_one(".schema-error")
        assert error.display and "'3.5' is not an integer" in str(error.render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []  # OK is blocked
        assert form.errors() == ["limit: '3.5' is not an integer"]
        await pilot.press("end", *["backspace"] * 3, *"25")
        await pilot.pause()
        assert form.errors() == []
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results == [
        StepDialogResult("glob-2", "fs.glob", {"pattern": "src/**/*.py", "limit": 25})
    ]


async def test_required_field_blocks_ok_and_cancel_returns_none(tmp_path: Path) -> None:
    app = Host(StepDialog(builtin_types()), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"shell", "enter")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        assert "command: required" in form_of(app).errors()
        summary = app.dialog.query_one("#step-errors")
        assert "command: required" in str(summary.render())
        await pilot.press("escape")  # back to the list
        await pilot.pause()
        assert app.dialog.chosen is None
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_typed_values_and_references(tmp_path: Path) -> None:
    app = Host(StepDialog(builtin_types()), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*"pytest", "enter")
        await pilot.pause()
        form = form_of(app)
        paths = form.field("paths")
        assert isinstance(paths.input_widget, TextArea)
        paths.input_widget.focus()
        await pilot.press(*"tests", "enter", *"${params.target}")
        form.field("timeout_s").input_widget.focus()
        await pilot.press(*"abc")
        await pilot.pause()
        assert form.errors() == ["timeout_s: 'abc' is not a number"]
        await pilot.press("end", *["backspace"] * 3, *"${params.limit}")
        check = form.field("check")
        assert isinstance(check.input_widget, Checkbox)
        check.input_widget.focus()
        await pilot.press("space")
        env = form.field("env")
        env.input_widget.focus()
        await pilot.press("ctrl+r")  # a reference instead of a JSON object
        await pilot.pause()
        assert isinstance(env.input_widget, Input)
        await pilot.press(*"${params.env}")
        await pilot.pause()
        assert form.errors() == []
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results == [
        StepDialogResult(
            "pytest",
            "pytest.run",
            {
                "paths": ["tests", "${params.target}"],
                "timeout_s": "${params.limit}",
                "check": True,
                "env": "${params.env}",
            },
        )
    ]


async def test_edit_mode_is_prefilled_and_keeps_the_type(tmp_path: Path) -> None:
    step = StepDialogResult(
        "diff",
        "git.diff",
        {"context_lines": 5, "staged": True},
    )
    types = builtin_types()
    schema = next(t for t in types if t.type == "git.diff").input_schema
    assert "staged" in schema["properties"], schema
    app = Host(StepDialog(types, taken_ids={"diff", "other"}, step=step), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.dialog.query_one("#step-pick").display is False
        id_input = app.dialog.query_one("#step-id", Input)
        assert id_input.value == "diff" and id_input.disabled
        form = form_of(app)
        assert form.values() == {"context_lines": 5, "staged": True}
        lines = form.field("context_lines").input_widget
        assert isinstance(lines, Input) and lines.value == "5"
        lines.focus()
        await pilot.press("end", "backspace", "7")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results == [
        StepDialogResult("diff", "git.diff", {"context_lines": 7, "staged": True})
    ]


async def test_enum_select_and_reference_prefill(tmp_path: Path) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "level": {"type": "string", "enum": ["low", "high"], "default": "low"},
            "flag": {"type": "boolean"},
            "items": {"type": "array", "items": {"type": "integer"}},
        },
    }
    info = StepTypeInfo(
        type="demo.step", title="Demo", description="", providers=("x",), input_schema=schema
    )
    step = StepDialogResult("demo", "demo.step", {"level": "${params.level}", "items": [1, 2]})
    app = Host(StepDialog([info], step=step), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form = form_of(app)
        items = form.field("items").input_widget
        assert isinstance(items, TextArea) and items.text == "1\n2"
        items.focus()
        await pilot.pause()
        await pilot.press("down", "end", "enter", "x")
        await pilot.pause()
        assert form.errors() == ["items: line 3: 'x' is not an integer"]
        await pilot.press("backspace", "3")
        level = form.field("level")
        assert level.ref_mode and isinstance(level.input_widget, Input)
        assert level.input_widget.value == "${params.level}"
        level.input_widget.focus()
        await pilot.pause()
        await pilot.press("ctrl+r")  # back to the select
        await pilot.pause()
        assert isinstance(level.input_widget, Select)
        level.input_widget.value = "high"
        await pilot.pause()
        assert form.values() == {"level": "high", "items": [1, 2, 3]}
