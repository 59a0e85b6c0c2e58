"""Melodies (SPEC §4): the definition layer — file format, references, conditions, validation
and the step graph.

A melody file is parsed by :mod:`~engine.melody.loader` into the strict models of
:mod:`~engine.melody.model`, checked against the declared step types by
:mod:`~engine.melody.validate`, and turned into a :class:`~engine.melody.dag.Dag` for ordering.
``${...}`` references live in :mod:`~engine.melody.refs`, ``when`` conditions in
:mod:`~engine.melody.expr`. Nothing here runs a step: the runner builds on this package.
"""

from __future__ import annotations

from engine.melody.dag import Dag, find_cycle
from engine.melody.errors import CycleError, MelodyError, MelodyErrors
from engine.melody.expr import Condition, compile_when
from engine.melody.loader import MELODY_DIR, SUFFIXES, find_melody, list_melodies, load_melody
from engine.melody.model import Melody, MelodyInfo, ParamSpec, RetrySpec, StepSpec, TriggerSpec
from engine.melody.refs import Ref, find_refs, resolve
from engine.melody.validate import validate, validate_or_raise

__all__ = [
    "MELODY_DIR",
    "SUFFIXES",
    "Condition",
    "CycleError",
    "Dag",
    "Melody",
    "MelodyError",
    "MelodyErrors",
    "MelodyInfo",
    "ParamSpec",
    "Ref",
    "RetrySpec",
    "StepSpec",
    "TriggerSpec",
    "compile_when",
    "find_cycle",
    "find_melody",
    "find_refs",
    "list_melodies",
    "load_melody",
    "resolve",
    "validate",
    "validate_or_raise",
]
