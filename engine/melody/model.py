"""The melody file's schema: one strict pydantic model per table (SPEC §4).

A melody is what a user writes in ``.symphony/melodies/NAME.toml`` (or YAML/JSON): a name,
parameters, steps and triggers. The models are strict at this trust boundary like the
configuration's: unknown keys are errors, ``"3"`` is not an integer, and values must be plain
data (no TOML dates). They check each value on its own; whether the steps fit together (ids,
step types, references, cycles) is :mod:`engine.melody.validate`'s job. This module must not
read files or know about extensions.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from engine.extensions.manifest import FieldType
from engine.extensions.steps import type_matches

__all__ = [
    "NAME_RE",
    "STEP_ID_RE",
    "Melody",
    "MelodyInfo",
    "ParamSpec",
    "RetrySpec",
    "StepSpec",
    "TriggerSpec",
    "check_plain",
]

STEP_ID_RE = r"^[A-Za-z_][A-Za-z0-9_-]*$"
#: Parameter names, output names and melody names share the step id's shape, so every one of
#: them can appear in a ``${...}`` reference.
NAME_RE = STEP_ID_RE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


def check_plain(value: Any, where: str = "") -> None:
    """Refuse values that have no JSON form: dates and times (TOML), non-string keys (YAML),
    non-finite numbers.

    Raises:
        ValueError: naming the offending element (``[2]``, ``.key``) when it is nested.
    """
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"keys must be strings, got {k!r}{_at(where)}")
            check_plain(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
    elif isinstance(value, datetime.date | datetime.time):
        raise ValueError(f"dates and times are not supported; quote the value{_at(where)}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a number JSON can hold{_at(where)}")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"unsupported value {value!r}{_at(where)}")


def _at(where: str) -> str:
    return f" (at {where.lstrip('.')})" if where else ""


class RetrySpec(_Strict):
    """How often a failed step is tried and how long to wait in between."""

    attempts: int = Field(1, ge=1, description="Total attempts, the first one included.")
    backoff: Literal["fixed", "exponential"] = Field(
        "exponential", description="`fixed` waits `initial_s` each time; `exponential` doubles it."
    )
    initial_s: float = Field(1.0, ge=0, description="Seconds before the second attempt.")
    max_s: float = Field(60.0, ge=0, description="Longest wait between two attempts.")

    @model_validator(mode="after")
    def _bounds(self) -> RetrySpec:
        if self.max_s < self.initial_s:
            raise ValueError(
                f"max_s ({self.max_s}) must not be less than initial_s ({self.initial_s})"
            )
        return self


class ParamSpec(_Strict):
    """A melody parameter, given with ``--param NAME=VALUE`` and used as ``${params.NAME}``."""

    default: Any = Field(None, description="Value used when none is given.")
    description: str = Field("", description="What the parameter means.")
    type: FieldType | None = Field(None, description="Value type; unset accepts anything.")
    required: bool = Field(False, description="A value must be given (no default allowed).")

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        check_plain(self.default)
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        if (
            self.default is not None
            and self.type is not None
            and not type_matches(self.type, self.default)
        ):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        return self


class StepSpec(_Strict):
    """One step: a step type (``uses``) with its inputs (``with``) and how to run it."""

    id: str = Field(pattern=STEP_ID_RE, description="Unique id, used in `needs` and references.")
    uses: str = Field(min_length=1, description="Step type, e.g. `pytest.run`.")
    with_: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="The step type's inputs; strings may hold `${...}` references.",
    )
    needs: list[str] = Field(
        default_factory=list,
        description="Steps that must finish first (references add their steps implicitly).",
    )
    when: str | None = Field(
        None,
        description="Condition; the step is skipped when it is false (e.g."
        " `steps.test.status == 'failed'`).",
    )
    optional: bool = Field(False, description="A failure of this step does not fail the run.")
    retry: RetrySpec = Field(default_factory=RetrySpec, description="Retries with backoff.")
    timeout_s: float | None = Field(None, gt=0, description="Seconds one attempt may take.")
    cache: bool | None = Field(
        None,
        description="Reuse an earlier result when nothing changed; unset: the step type decides.",
    )
    files: list[str] = Field(
        default_factory=list,
        description="Workspace globs whose content is part of the cache key.",
    )
    extension: str | None = Field(
        None, description="Extension id to use when several provide the step type."
    )
    description: str = Field("", description="What the step is for.")

    @field_validator("with_")
    @classmethod
    def _plain(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_plain(value)
        return value


class TriggerSpec(_Strict):
    """When the melody runs by itself (it can always be run by hand)."""

    files: list[str] = Field(
        default_factory=list, description="Workspace globs; a change to a match starts a run."
    )
    after: list[str] = Field(
        default_factory=list, description="Melody names; a successful run of one starts a run."
    )
    every_s: float | None = Field(
        None, gt=0, description="Interval of a schedule, kept while Symphony runs."
    )


class MelodyInfo(_Strict):
    """The ``[melody]`` table: what the melody is called and does."""

    name: str = Field(pattern=NAME_RE, description="Name used by `symphony run NAME`.")
    description: str = Field("", description="One or two sentences shown in listings.")


class Melody(_Strict):
    """A whole melody file."""

    melody: MelodyInfo = Field(description="Name and description.")
    params: dict[str, ParamSpec] = Field(default_factory=dict, description="Parameters by name.")
    steps: list[StepSpec] = Field(min_length=1, description="The steps, in declaration order.")
    triggers: TriggerSpec = Field(default_factory=TriggerSpec, description="Automatic runs.")

    _index: dict[str, StepSpec] = PrivateAttr(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        for name in value:
            if not re.match(NAME_RE, name):
                raise ValueError(
                    f"parameter name {name!r} must start with a letter or '_' and hold only"
                    " letters, digits, '_' and '-'"
                )
        return value

    def model_post_init(self, context: Any, /) -> None:
        index: dict[str, StepSpec] = {}
        for step in self.steps:
            index.setdefault(step.id, step)  # duplicates are a validation error; first one wins
        self._index = index

    @property
    def name(self) -> str:
        """The melody's name (``[melody] name``)."""
        return self.melody.name

    @property
    def ids(self) -> list[str]:
        """Step ids in declaration order (duplicates included, see validation)."""
        return [s.id for s in self.steps]

    def step(self, id: str) -> StepSpec:
        """The step called ``id`` (the first one, should ids repeat).

        Raises:
            KeyError: no step has that id.
        """
        try:
            return self._index[id]
        except KeyError:
            raise KeyError(f"melody {self.name!r} has no step {id!r}") from None

    def definition_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the definition.

        The canonical form is the model dumped with file keys (``with``), defaults filled in and
        keys sorted, so the same melody written in TOML, YAML or JSON, with or without default
        values spelled out, has the same hash. Runs are pinned to it.
        """
        data = self.model_dump(by_alias=True, mode="json")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
