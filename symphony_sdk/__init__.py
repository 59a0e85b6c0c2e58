"""The Symphony extension SDK: what an extension's code imports.

An extension is a class derived from :class:`Operator`, :class:`Instrument` or :class:`Motif`,
named by the ``entry`` of its ``symphony-extension.toml``. Its step implementations are methods
marked with :func:`step`; each receives a :class:`StepContext` and the step's validated inputs
and returns its outputs. Everything the code does to the outside world (files, processes,
environment, network, AI models through ``ctx.models``, artifacts) goes through the context,
which checks the manifest's permissions and audits each call::

    from symphony_sdk import Operator, StepContext, step

    class WordCount(Operator):
        @step("words.count")
        def count(self, ctx: StepContext, inputs: dict) -> dict:
            text = ctx.fs.read_text(inputs["path"])
            return {"words": len(text.split())}

:mod:`symphony_sdk.testing` runs an extension against a temporary workspace. The SDK imports no
UI code and nothing heavy, so an extension loads quickly in or out of Symphony's process.
"""

from __future__ import annotations

from engine.types.errors import (
    Cancelled,
    ModelError,
    ModelNotConfigured,
    ModelUnavailable,
    PermissionDenied,
    StepInputError,
)
from symphony_sdk.base import Extension, Instrument, Motif, Operator, step, step_handlers
from symphony_sdk.context import (
    ArtifactRef,
    Artifacts,
    ChatReply,
    ExtensionContext,
    Files,
    Models,
    ProcessResult,
    StepContext,
    TokenUsage,
)

__all__ = [
    "ArtifactRef",
    "Artifacts",
    "Cancelled",
    "ChatReply",
    "Extension",
    "ExtensionContext",
    "Files",
    "Instrument",
    "ModelError",
    "ModelNotConfigured",
    "ModelUnavailable",
    "Models",
    "Motif",
    "Operator",
    "PermissionDenied",
    "ProcessResult",
    "StepContext",
    "StepInputError",
    "TokenUsage",
    "step",
    "step_handlers",
]
