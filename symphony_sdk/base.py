"""Base classes of extensions and the ``@step`` marker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from symphony_sdk.context import ExtensionContext, StepContext
    from symphony_sdk.vdom import Element, UiEvent

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
    """An extension that contributes UI panels, each described as a tree of elements.

    Every panel the manifest declares under ``[[contributes.panels]]`` is drawn from the tree
    :meth:`render` returns for it (built with :func:`symphony_sdk.vdom.h`). Symphony renders a
    panel when it opens and again after each :meth:`on_event`; between two trees it sends
    only the differences to the screen, so keep building the whole tree from your state and
    let Symphony work out what changed. When the state changes for another reason (a thread of
    yours finished, a timer fired), call :meth:`refresh`::

        from symphony_sdk import Motif
        from symphony_sdk.vdom import Element, UiEvent, h

        class Counter(Motif):
            def __init__(self) -> None:
                self.count = 0

            def render(self, panel: str) -> Element:
                return h("horizontal",
                         h("label", f"{self.count} clicks", key="count"),
                         h("button", key="add", label="Add one"))

            def on_event(self, panel: str, event: UiEvent) -> None:
                if event.key == "add" and event.kind == "press":
                    self.count += 1  # Symphony renders the panel again after this returns

    Symphony never calls :meth:`render` and :meth:`on_event` of one motif at the same time, in
    or out of Symphony's process; :meth:`refresh` may be called from any thread. The context
    given to :meth:`~Extension.activate` stays usable in both (read files and artifacts there).
    """

    kind = "motif"

    #: Set by Symphony: what :meth:`refresh` calls (None until the motif is activated).
    _refresh_sink: Callable[[str | None], None] | None = None

    def render(self, panel: str) -> Element:
        """The tree panel ``panel`` (an id from the manifest) shows now.

        Raise any exception to show an error in the panel instead; an invalid tree is
        reported with the location of each problem in it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not render panel {panel!r}")

    def on_event(self, panel: str, event: UiEvent) -> None:
        """The user did something in panel ``panel``: ``event`` says what and to which
        element (its ``path``, and ``key`` when it has one). The panel is rendered again
        after this returns. An exception is shown to the user as an error."""

    def refresh(self, panel: str | None = None) -> None:
        """Ask Symphony to render ``panel`` again (every open panel of this motif when None).

        Returns at once; the render happens soon after on Symphony's side, and several
        requests in a row make one render. Does nothing for a panel that is not open.
        """
        sink = self._refresh_sink
        if sink is not None:
            sink(panel)

    def bind_refresh(self, sink: Callable[[str | None], None] | None) -> None:
        """Called by Symphony (not by extensions): route :meth:`refresh` to ``sink``."""
        self._refresh_sink = sink


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
