"""SchemaForm: a form generated from a step type's input schema (a JSON Schema object).

Strings and numbers get an input line (integers refuse ``3.5``, numbers refuse ``abc``, the
reason under the field), booleans a checkbox, enums a select, arrays of scalars a text area with
one item per line, objects and untyped values a JSON text area. Every field takes a melody
reference (``${params.x}``, ``${steps.a.outputs.b}``): string and number lines accept one as
typed, and ``ctrl+r`` switches a checkbox, select or text area to a reference line (a field
whose current value is a reference starts that way). The form only reads and checks values; the
screen that holds it decides what to do with them.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static, TextArea

from engine.melody import refs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from textual.app import ComposeResult
    from textual.widget import Widget

__all__ = ["SchemaField", "SchemaForm"]

_INTEGER = re.compile(r"[+-]?\d+")
#: Kinds whose own widget cannot hold a reference: ``ctrl+r`` swaps in a reference line.
_SWITCHABLE = frozenset({"boolean", "enum", "array", "json"})


class _Unset:
    """No value: the field is left out of ``with``."""


UNSET = _Unset()


def _kind(prop: Mapping[str, Any]) -> str:
    if "enum" in prop:
        return "enum"
    kind = prop.get("type")
    if kind in ("string", "integer", "number", "boolean"):
        return str(kind)
    if kind == "array" and prop.get("items", {}).get("type") in (
        None,
        "string",
        "integer",
        "number",
        "boolean",
    ):
        return "array"
    return "json"


def _show(value: Any) -> str:
    """A value as the JSON a user would type (strings bare)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _scalar(text: str, kind: str | None, where: str) -> Any:
    """Parse one scalar as ``kind``; a whole reference stands for any type.

    Raises:
        ValueError: the text is not of that type, or holds a malformed reference.
    """
    if refs.has_refs(text):
        try:
            parts = refs.split(text)
        except ValueError as e:
            raise ValueError(str(e)) from None
        whole = len(parts) == 1 and isinstance(parts[0], refs.Ref)
        if kind in (None, "string") or whole:
            return text
        raise ValueError(f"{where}must be a single ${{...}} reference or a {kind}")
    if kind == "integer":
        if not _INTEGER.fullmatch(text.strip()):
            raise ValueError(f"{where}{text!r} is not an integer")
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{where}{text!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{where}{text!r} is not a finite number")
        return int(text) if _INTEGER.fullmatch(text.strip()) else number
    if kind == "boolean":
        if text.strip().lower() not in ("true", "false"):
            raise ValueError(f"{where}{text!r} is not true or false")
        return text.strip().lower() == "true"
    return text


def _is_whole_ref(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return refs.whole_ref(value) is not None
    except ValueError:
        return False


class SchemaField(Vertical):
    """One property of the schema: its label, its input, help text and error line."""

    def __init__(self, name: str, prop: Mapping[str, Any], *, required: bool, value: Any) -> None:
        super().__init__(classes="schema-field")
        self.field_name = name
        self.prop = dict(prop)
        self.required = required
        self.kind = _kind(prop)
        self.initial = value
        self.default = prop.get("default")
        self.reveal = False
        self.ref_mode = self.kind in _SWITCHABLE and _is_whole_ref(value)

    # -- building ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        marker = " [b]*[/b]" if self.required else ""
        kind = self.prop.get("type", "any")
        if kind == "array":
            kind = f"array of {self.prop.get('items', {}).get('type', 'any')}"
        yield Static(f"{self.field_name}{marker} [dim]{kind}[/dim]", classes="schema-label")
        yield self._main()
        yield Input(
            self.initial if self.ref_mode else "",
            placeholder="${params.NAME} or ${steps.ID.outputs.NAME}",
            classes="schema-ref",
            compact=True,
        )
        help_text = str(self.prop.get("description", ""))
        if self.default is not None:
            shown = json.dumps(self.default, ensure_ascii=False)
            help_text = f"{help_text} Default: {shown}.".strip()
        if self.kind == "array":
            help_text = f"{help_text} One item per line.".strip()
        if self.kind in _SWITCHABLE:
            help_text = f"{help_text} (ctrl+r: reference)".strip()
        yield Static(help_text, classes="schema-help", markup=False)
        yield Static("", classes="schema-error", markup=False)

    def _main(self) -> Widget:
        value = None if self.ref_mode else self.initial
        if self.kind == "boolean":
            checked = value if isinstance(value, bool) else self.default is True
            return Checkbox("yes", checked, classes="schema-input", compact=True)
        if self.kind == "enum":
            options = [(_show(v), v) for v in self.prop["enum"]]
            prompt = f"default: {_show(self.default)}" if self.default is not None else "not set"
            current = value if any(v == value for _, v in options) else Select.NULL
            return Select(
                options, prompt=prompt, value=current, classes="schema-input", compact=True
            )
        if self.kind == "array":
            lines = "\n".join(_show(v) for v in value) if isinstance(value, list) else ""
            return TextArea(lines, classes="schema-input schema-lines", compact=True)
        if self.kind == "json":
            text = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
            if isinstance(value, str) and self.prop.get("type") is None:
                text = value
            return TextArea(text, classes="schema-input schema-lines", compact=True)
        text = "" if value is None else _show(value)
        return Input(text, placeholder=self._placeholder(), classes="schema-input", compact=True)

    def _placeholder(self) -> str:
        if self.default is not None:
            return _show(self.default)
        return {"integer": "an integer", "number": "a number"}.get(self.kind, "")

    def on_mount(self) -> None:
        self._show_mode()

    def _show_mode(self) -> None:
        self.query_one(".schema-input").display = not self.ref_mode
        self.query_one(".schema-ref", Input).display = self.ref_mode

    # -- state -------------------------------------------------------------------------------

    @property
    def input_widget(self) -> Widget:
        """The widget that currently takes the value (the reference line in reference mode)."""
        return self.query_one(".schema-ref" if self.ref_mode else ".schema-input")

    def toggle_reference(self) -> None:
        """Switch between the field's own widget and a reference line (switchable kinds)."""
        if self.kind not in _SWITCHABLE:
            return
        self.ref_mode = not self.ref_mode
        self._show_mode()
        self.input_widget.focus()
        self.refresh_error()

    def value(self) -> Any:
        """The typed value, :data:`UNSET` when left empty.

        Raises:
            ValueError: the text does not fit the field's type.
        """
        if self.ref_mode:
            text = self.query_one(".schema-ref", Input).value.strip()
            if not text:
                return UNSET
            if refs.whole_ref(text) is None:
                raise ValueError("expected one ${...} reference")
            return text
        widget = self.query_one(".schema-input")
        if isinstance(widget, Checkbox):
            baseline = self.default is True
            if widget.value == baseline and not isinstance(self.initial, bool):
                return UNSET
            return widget.value
        if isinstance(widget, Select):
            return UNSET if widget.is_blank() else widget.value
        if isinstance(widget, TextArea):
            return self._text_value(widget.text)
        assert isinstance(widget, Input)
        text = widget.value
        if not text.strip():
            return UNSET
        return _scalar(text if self.kind == "string" else text.strip(), self.kind, "")

    def _text_value(self, text: str) -> Any:
        if not text.strip():
            return UNSET
        if self.kind == "array":
            item = self.prop.get("items", {}).get("type")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return [_scalar(line, item, f"line {n}: ") for n, line in enumerate(lines, 1)]
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            if self.prop.get("type") is None:
                return text.strip()  # an untyped value: plain text is a string
            raise ValueError(f"not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        want = self.prop.get("type")
        if want == "object" and not isinstance(parsed, dict):
            raise ValueError("must be a JSON object ({...})")
        if want == "array" and not isinstance(parsed, list):
            raise ValueError("must be a JSON array ([...])")
        return parsed

    def error(self, *, reveal: bool = True) -> str:
        """Why the value cannot be used, or ``""``; a missing required value counts only with
        ``reveal`` (the form does not nag before the user tries to confirm)."""
        try:
            value = self.value()
        except ValueError as e:
            return str(e)
        if value is UNSET and self.required and reveal:
            return "required"
        return ""

    def refresh_error(self) -> None:
        """Show the current error under the field."""
        message = self.error(reveal=self.reveal)
        label = self.query_one(".schema-error", Static)
        label.update(message)
        label.display = bool(message)
        self.set_class(bool(message), "-invalid")


class SchemaForm(Vertical):
    """Inputs for each property of a JSON Schema object, prefilled from ``values``.

    Args:
        schema: ``{"type": "object", "properties": {...}, "required": [...]}``.
        values: the current values (a step's ``with``).
    """

    DEFAULT_CSS = """
    SchemaForm { height: auto; }
    SchemaForm .schema-field { height: auto; margin-bottom: 1; }
    SchemaForm .schema-label { color: $text; }
    SchemaForm .schema-help { color: $text-muted; }
    SchemaForm .schema-error { color: $text-error; display: none; }
    SchemaForm .schema-lines { height: 4; }
    SchemaForm Input, SchemaForm Select { width: 1fr; }
    SchemaForm .schema-input, SchemaForm .schema-ref { background: $panel; }
    SchemaForm .-invalid .schema-input, SchemaForm .-invalid .schema-ref {
        background-tint: $error 15%;
    }
    """

    BINDINGS = [Binding("ctrl+r", "toggle_reference", "Reference", show=True)]

    class Changed(Message):
        """A value changed (checked as it was typed)."""

        def __init__(self, form: SchemaForm) -> None:
            super().__init__()
            self.form = form

        @property
        def control(self) -> SchemaForm:
            return self.form

    def __init__(
        self,
        schema: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.schema = dict(schema)
        self.initial = dict(values or {})

    @property
    def fields(self) -> list[SchemaField]:
        """The fields, in schema order."""
        return list(self.query(SchemaField))

    def field(self, name: str) -> SchemaField:
        """The field of property ``name``.

        Raises:
            KeyError: the form has no such field.
        """
        for field in self.fields:
            if field.field_name == name:
                return field
        raise KeyError(name)

    def compose(self) -> ComposeResult:
        required = set(self.schema.get("required", ()))
        properties: dict[str, Any] = dict(self.schema.get("properties", {}))
        for name in self.initial:
            properties.setdefault(name, {})  # a value the schema does not know: keep it editable
        if not properties:
            yield Static("This step type takes no inputs.", classes="schema-help")
        for name, prop in properties.items():
            yield SchemaField(name, prop, required=name in required, value=self.initial.get(name))

    def values(self) -> dict[str, Any]:
        """The fields that are set, typed (invalid fields are left out: see :meth:`errors`)."""
        found: dict[str, Any] = {}
        for field in self.fields:
            try:
                value = field.value()
            except ValueError:
                continue
            if value is not UNSET:
                found[field.field_name] = value
        return found

    def errors(self) -> list[str]:
        """``name: reason`` for each field that cannot be used, required ones included."""
        return [f"{f.field_name}: {e}" for f in self.fields if (e := f.error())]

    def show_errors(self) -> None:
        """Show every field's problem, missing required values too; focus the first."""
        first: SchemaField | None = None
        for field in self.fields:
            field.reveal = True
            field.refresh_error()
            if first is None and field.error():
                first = field
        if first is not None:
            first.input_widget.focus()
            first.scroll_visible()

    def _changed_field(self, widget: Widget) -> None:
        field = next((a for a in widget.ancestors if isinstance(a, SchemaField)), None)
        if field is not None:
            field.refresh_error()
            self.post_message(self.Changed(self))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed_field(event.input)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._changed_field(event.text_area)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed_field(event.checkbox)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed_field(event.select)

    def action_toggle_reference(self) -> None:
        """Switch the focused field to a reference line and back."""
        focused = self.screen.focused
        if focused is None:
            return
        field = next((a for a in focused.ancestors if isinstance(a, SchemaField)), None)
        if field is not None:
            field.toggle_reference()
