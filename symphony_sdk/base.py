"""Base classes of extensions and the ``@step`` marker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from symphony_sdk.context import ExtensionContext, StepContext

__all__ = ["Extension", "Instrument", "Motif", "Operator", "step", "step_handlers"]

F = TypeVar("F", bound="Callable[..., Any]")
_MARK = "__symphony_step__"


def step(step_type: str) -> Callable[[F], F]:
    """Mark a method as the implementation of the manifest's step type ``step_type``.

    The method is called as ``method(ctx, inputs)`` with a :class:`StepContext` and the inputs
    validated against the manifest (defaults filled in); it returns a mapping of the declared
    outputs. Raise any exception to fail the step; its message is what the user sees.
    """

    def mark(fn: F) -> F:
        setattr(fn, _MARK, step_type)
        return fn

    return mark


class Extension:
    """Base of every extension class; Symphony creates one instance with no arguments.

    Override :meth:`activate` to set up (it runs once, time-bounded, before the first call) and
    :meth:`deactivate` to release what it holds.
    """

    kind: ClassVar[str] = ""

    def activate(self, ctx: ExtensionContext) -> None:
        """Prepare the extension; ``ctx`` stays valid until :meth:`deactivate`."""

    def deactivate(self) -> None:
        """Release resources; called once when Symphony stops or the extension is disabled."""


class Operator(Extension):
    """An extension that does work for melodies: run tools, transform files, query systems."""

    kind = "operator"


class Instrument(Extension):
    """An extension that talks to an AI model."""

    kind = "instrument"


class Motif(Extension):
    """An extension that contributes a UI panel."""

    kind = "motif"


def step_handlers(
    instance: object,
) -> dict[str, Callable[[StepContext, Mapping[str, Any]], Mapping[str, Any]]]:
    """The ``@step`` methods of ``instance`` by step type.

    Raises:
        TypeError: two methods claim the same step type.
    """
    found: dict[str, Callable[[StepContext, Mapping[str, Any]], Mapping[str, Any]]] = {}
    for name in dir(type(instance)):
        attr = getattr(type(instance), name, None)
        step_type = getattr(attr, _MARK, None)
        if isinstance(step_type, str):
            if step_type in found:
                raise TypeError(f"step type {step_type!r} is implemented twice")
            found[step_type] = getattr(instance, name)
    return found
