"""Check that a parsed melody can run: its steps, step types, references, conditions and graph.

The model (:mod:`engine.melody.model`) has already checked each value on its own; this module
checks how they fit together and against the step types that extensions declare: duplicate ids,
``needs`` naming unknown steps, cycles, unknown step types and inputs, missing required inputs,
literal values of the wrong type or outside an enum, references to unknown parameters, steps or
outputs, references whose type does not fit the input, invalid ``when`` conditions, and the
parameters given for a run. Every problem is reported, each with the file, a location such as
``steps[2] (explain).with.prompt`` and a reason, with a did-you-mean where a name is close to a
known one. This module must not run steps or start extensions: it is given their declarations.
"""

from __future__ import annotations

import difflib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.extensions.steps import in_enum, type_matches
from engine.melody import refs
from engine.melody.dag import find_cycle
from engine.melody.errors import CycleError, MelodyError, MelodyErrors
from engine.melody.expr import compile_when

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from engine.extensions.manifest import FieldSpec, StepTypeSpec
    from engine.melody.model import Melody, StepSpec

__all__ = ["compatible", "step_location", "validate", "validate_or_raise"]

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


def step_location(index: int, step_id: str) -> str:
    """How errors name a step: ``steps[1] (test)``."""
    return f"steps[{index}] ({step_id})"


def compatible(have: str, want: str) -> bool:
    """Whether a value of field type ``have`` fits where ``want`` is expected.

    ``any`` fits anything and accepts anything; a ``number`` accepts an ``integer``.
    """
    return have == want or "any" in (have, want) or (want == "number" and have == "integer")


def _hint(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def validate(
    melody: Melody,
    *,
    source: str,
    step_types: Mapping[str, StepTypeSpec],
    params: Mapping[str, Any] = _NO_PARAMS,
) -> list[MelodyError]:
    """Every problem that would stop ``melody`` from running, in file order (cycles last).

    Args:
        melody: the parsed melody.
        source: names the file in each error.
        step_types: the declarations of the available step types, by type name.
        params: the parameter values given for a run; a required parameter missing from them
            is an error, and so is a value for a parameter the melody does not declare.

    Returns:
        The problems found; empty when the melody is valid.
    """
    return _Validator(melody, source, step_types).run(params)


def validate_or_raise(
    melody: Melody,
    *,
    source: str,
    step_types: Mapping[str, StepTypeSpec],
    params: Mapping[str, Any] = _NO_PARAMS,
) -> None:
    """:func:`validate`, raising the problems instead of returning them.

    Raises:
        MelodyErrors: the melody has one problem or more (``errors`` lists them).
    """
    errors = validate(melody, source=source, step_types=step_types, params=params)
    if errors:
        raise MelodyErrors(errors)


class _Validator:
    def __init__(self, melody: Melody, source: str, step_types: Mapping[str, StepTypeSpec]) -> None:
        self.melody = melody
        self.source = source
        self.types = step_types
        self.errors: list[MelodyError] = []
        self.first: dict[str, int] = {}
        self.by_id: dict[str, StepSpec] = {}
        for n, step in enumerate(melody.steps):
            self.first.setdefault(step.id, n)
            self.by_id.setdefault(step.id, step)
        # Dependencies of each step (first of an id only), collected while checking it.
        self.deps: dict[str, list[str]] = {}

    def error(self, location: str, reason: str) -> None:
        self.errors.append(MelodyError(reason, source=self.source, location=location))

    def run(self, given: Mapping[str, Any]) -> list[MelodyError]:
        self.check_params(given)
        for n, step in enumerate(self.melody.steps):
            self.check_step(n, step)
        self.check_cycles()
        return self.errors

    # -- parameters -----------------------------------------------------------------------

    def check_params(self, given: Mapping[str, Any]) -> None:
        declared = self.melody.params
        for name, spec in declared.items():
            value = given.get(name)
            if name not in given or value is None:
                if spec.required:
                    self.error(f"params.{name}", f"required parameter {name!r} is not given")
            elif spec.type is not None and not type_matches(spec.type, value):
                self.error(
                    f"params.{name}",
                    f"the value given, {value!r}, is {_describe(value)}; the parameter is"
                    f" {spec.type}",
                )
        for name in given:
            if name not in declared:
                known = ", ".join(declared) or "none"
                self.error(
                    "params",
                    f"parameter {name!r} is given but not declared{_hint(name, declared)}"
                    f" (parameters: {known})",
                )

    # -- steps ----------------------------------------------------------------------------

    def check_step(self, n: int, step: StepSpec) -> None:
        where = step_location(n, step.id)
        if self.first[step.id] != n:
            self.error(
                f"{where}.id",
                f"duplicate step id {step.id!r} (first used by steps[{self.first[step.id]}])",
            )
        for k, need in enumerate(step.needs):
            if need not in self.first:
                self.error(f"{where}.needs[{k}]", f"unknown step {need!r}{_hint(need, self.first)}")
        spec = self.types.get(step.uses)
        if spec is None:
            hint = _hint(step.uses, self.types) or ": no available extension provides it"
            self.error(f"{where}.uses", f"unknown step type {step.uses!r}{hint}")
        # The same edges as dag.step_dependencies, gathered while the references are checked.
        deps = dict.fromkeys([*step.needs, *self.check_refs(where, step)])
        if spec is not None:
            self.check_inputs(where, step, spec)
        if step.when is not None:
            deps.update(dict.fromkeys(self.check_when(where, step.when)))
        if self.first[step.id] == n:
            self.deps[step.id] = list(deps)

    def check_refs(self, where: str, step: StepSpec) -> list[str]:
        """Check the references in ``with``; return the ids of the steps they name."""
        found, problems = refs.scan(step.with_, ("with",))
        for path, reason in problems:
            self.error(f"{where}.{refs.format_path(path)}", reason)
        for path, ref in found:
            unknown = self.unknown_ref(ref)
            if unknown is not None:
                self.error(f"{where}.{refs.format_path(path)}", unknown)
        return [ref.name for _, ref in found if ref.kind == "steps"]

    def unknown_ref(self, ref: refs.Ref) -> str | None:
        """Why ``ref`` names nothing, or None when it names something."""
        if ref.kind == "params":
            return self.unknown_param(ref.name, f"in {ref.text}")
        if ref.name not in self.first:
            return f"unknown step {ref.name!r} in {ref.text}{_hint(ref.name, self.first)}"
        if ref.field is not None and not ref.is_status:
            return self.unknown_output(ref.name, ref.field)
        return None

    def unknown_param(self, name: str, context: str) -> str | None:
        declared = self.melody.params
        if name in declared:
            return None
        hint = _hint(name, declared)
        if not hint:
            hint = f" (parameters: {', '.join(declared)})" if declared else " (none declared)"
        return f"unknown parameter {name!r} {context}{hint}"

    def unknown_output(self, step_id: str, output: str) -> str | None:
        producer = self.by_id[step_id]
        spec = self.types.get(producer.uses)
        if spec is None or output in spec.outputs:
            return None  # an unknown step type is reported at its own step
        hint = _hint(output, spec.outputs)
        known = ", ".join(spec.outputs) or "none"
        return (
            f"step {step_id!r} ({producer.uses}) has no output {output!r}{hint} (outputs: {known})"
        )

    def ref_type(self, ref: refs.Ref) -> str:
        """The field type a reference yields; ``any`` when it is not known."""
        if ref.kind == "params":
            param = self.melody.params.get(ref.name)
            return (param.type if param is not None else None) or "any"
        if ref.is_status:
            return "string"
        if ref.name not in self.first or ref.field is None:
            return "any"
        spec = self.types.get(self.by_id[ref.name].uses)
        field = spec.outputs.get(ref.field) if spec is not None else None
        return field.type if field is not None else "any"

    # -- inputs ---------------------------------------------------------------------------

    def check_inputs(self, where: str, step: StepSpec, spec: StepTypeSpec) -> None:
        inputs = spec.inputs
        for name, value in step.with_.items():
            field = inputs.get(name)
            if field is None:
                known = ", ".join(inputs) or "none"
                self.error(
                    f"{where}.with.{name}",
                    f"unknown input {name!r} for {step.uses}{_hint(name, inputs)}"
                    f" (inputs: {known})",
                )
            elif value is not None:
                self.check_value(f"{where}.with.{name}", f"input {name!r}", step.uses, field, value)
        for name, field in inputs.items():
            if field.required and step.with_.get(name) is None:
                self.error(f"{where}.with", f"required input {name!r} of {step.uses} is missing")

    def check_value(
        self, location: str, what: str, uses: str, field: FieldSpec, value: Any
    ) -> None:
        if not self.fits(location, what, uses, field.type, value):
            return
        if (
            field.enum is not None
            and not any(refs.scan(value))  # a reference's value is only known when it runs
            and not in_enum(field.enum, value)
        ):
            allowed = ", ".join(repr(v) for v in field.enum)
            self.error(location, f"{what} of {uses} must be one of {allowed}, got {value!r}")
        if field.items is not None and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                self.fits(f"{location}[{i}]", f"{what}[{i}]", uses, field.items, item)

    def fits(self, location: str, what: str, uses: str, want: str, value: Any) -> bool:
        """Check one value (a whole reference, an interpolated string or a literal) against the
        field type ``want``; report a mismatch and return whether it fits."""
        if isinstance(value, str) and refs.has_refs(value):
            try:
                parts = refs.split(value)
            except ValueError:
                return False  # reported as a malformed reference
            if len(parts) == 1 and isinstance(parts[0], refs.Ref):
                ref = parts[0]
                have = self.ref_type(ref)
                if compatible(have, want):
                    return True
                self.error(location, f"{ref.text} is {have} but {what} of {uses} takes {want}")
                return False
            if compatible("string", want):
                return True
            self.error(location, f"{what} of {uses} must be {want}, got a string with references")
            return False
        if type_matches(want, value):
            return True
        self.error(location, f"{what} of {uses} must be {want}, got {_describe(value)}")
        return False

    # -- conditions -----------------------------------------------------------------------

    def check_when(self, where: str, text: str) -> list[str]:
        """Check a ``when`` condition; return the ids of the steps it reads."""
        location = f"{where}.when"
        try:
            condition = compile_when(text)
        except ValueError as e:
            self.error(location, str(e))
            return []
        for name in sorted(condition.param_refs):
            reason = self.unknown_param(name, "in `when`")
            if reason is not None:
                self.error(location, reason)
        for step_id in sorted(condition.step_refs):
            if step_id not in self.first:
                self.error(
                    location, f"unknown step {step_id!r} in `when`{_hint(step_id, self.first)}"
                )
        for step_id, output in sorted(condition.output_refs):
            if step_id in self.first:
                reason = self.unknown_output(step_id, output)
                if reason is not None:
                    self.error(location, reason)
        return sorted(condition.step_refs)

    # -- graph ----------------------------------------------------------------------------

    def check_cycles(self) -> None:
        ids = list(self.first)
        while True:
            cycle = find_cycle(ids, self.deps)
            if cycle is None:
                return
            start = cycle[0]
            location = step_location(self.first[start], start)
            self.errors.append(CycleError(cycle, source=self.source, location=location))
            members = set(cycle)
            ids = [i for i in ids if i not in members]  # look for other, disjoint cycles
