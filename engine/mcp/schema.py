"""Translate between MCP tools and Symphony step types.

A tool's JSON Schema becomes the step's typed inputs (what the schema cannot express in
Symphony's field types becomes ``any``; the server checks those itself), its name a valid step
type segment, and a tool result the step's outputs. This module must not import the ``mcp``
package at module level nor start anything.
"""

from __future__ import annotations

import re
from typing import Any

from engine.extensions.manifest import FieldSpec, StepTypeSpec

__all__ = ["OUTPUTS", "result_outputs", "step_name", "step_spec"]

_SIMPLE = {"string", "integer", "number", "boolean", "array", "object"}

#: What every MCP step produces.
OUTPUTS: dict[str, FieldSpec] = {
    "text": FieldSpec(type="string", description="The result's text content, joined by newlines."),
    "content": FieldSpec(
        type="array", description="The result's content blocks as the server sent them."
    ),
    "structured": FieldSpec(
        type="any", description="The result's structured content, when the server gives one."
    ),
    "is_error": FieldSpec(
        type="boolean", description="The tool reported an error (its message is in `text`)."
    ),
}


def step_name(tool: str) -> str:
    """A step type segment for ``tool``: ``getWeather`` → ``get_weather``, ``a b`` → ``a_b``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", tool).lower()
    parts = [re.sub(r"[^a-z0-9_-]+", "_", p).strip("_-") for p in snake.split(".")]
    return ".".join(p for p in parts if p) or "tool"


def _field(schema: Any, required: bool) -> FieldSpec:
    if not isinstance(schema, dict):
        return FieldSpec(required=required)
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]: optional in disguise
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    kind = kind if kind in _SIMPLE else "any"
    items = schema.get("items")
    item_kind = items.get("type") if isinstance(items, dict) else None
    description = str(schema.get("description") or schema.get("title") or "")
    candidates: list[dict[str, Any]] = [
        {
            "type": kind,
            "description": description,
            "required": required,
            "default": None if required else schema.get("default"),
            "enum": schema.get("enum") if isinstance(schema.get("enum"), list) else None,
            "items": item_kind if kind == "array" and item_kind in _SIMPLE else None,
        },
        {"type": kind, "description": description, "required": required},
        {"description": description, "required": required},
    ]
    for fields in candidates:
        try:
            return FieldSpec(**fields)
        except ValueError:
            continue  # an odd schema (a default of another type): keep less of it
    return FieldSpec(required=required)


def step_spec(step_type: str, tool: str, description: str, schema: dict[str, Any]) -> StepTypeSpec:
    """The step type declaration of one tool."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    required = set(schema.get("required") or ()) if isinstance(schema, dict) else set()
    inputs = {
        str(name): _field(sub, name in required)
        for name, sub in (props.items() if isinstance(props, dict) else ())
    }
    # model_construct: the tool's name may not be a valid id; the step type always is.
    return StepTypeSpec.model_construct(
        type=step_type,
        title=tool,
        description=description,
        inputs=inputs,
        outputs=dict(OUTPUTS),
        reads=[],
        cacheable=False,  # a tool may have effects or read state Symphony cannot see
    )


def result_outputs(result: Any) -> dict[str, Any]:
    """The step outputs of a ``CallToolResult``."""
    content = [
        block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content
    ]
    text = "\n".join(block["text"] for block in content if block.get("type") == "text")
    return {
        "text": text,
        "content": content,
        "structured": result.structured_content,
        "is_error": bool(result.is_error),
    }
