"""The Symphony extension SDK: what an extension's code imports.

An extension is a class derived from :class:`Operator`, :class:`Instrument` or :class:`Motif`,
named by the ``entry`` of its ``symphony-extension.toml``. Its step implementations are methods
marked with :func:`step`; each receives a :class:`StepContext` and the step's validated inputs
and returns its outputs. Everything the code does to the outside world (files, processes,
environment, network, models, artifacts) goes through the context, which checks the manifest's
permissions and audits each call::

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

from engine.types.errors import Cancelled, PermissionDenied, StepInputError
from symphony_sdk.base import Extension, Instrument, Motif, Operator, step, step_handlers
from symphony_sdk.context import (
    ArtifactRef,
    Artifacts,
    ExtensionContext,
    Files,
    ProcessResult,
    StepContext,
)

__all__ = [
    "ArtifactRef",
    "Artifacts",
    "Cancelled",
    "Extension",
    "ExtensionContext",
    "Files",
    "Instrument",
    "Motif",
    "Operator",
    "PermissionDenied",
    "ProcessResult",
    "StepContext",
    "StepInputError",
    "step",
    "step_handlers",
]
