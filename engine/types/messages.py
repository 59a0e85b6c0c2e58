"""The message envelope and the typed commands, events and replies that travel in it.

Commands are imperative (``GetHealth``), events past tense (``ConfigChanged``) and carry an id and
a timestamp; replies answer requests. All are frozen, keyword-only msgspec Structs tagged with
their class name, so a payload decodes to exactly one type. The TUI, the CLI and (later) IPC
peers use these same types: anything the TUI can do, a script can do.
"""

from __future__ import annotations

import enum
import time
from typing import Any, Literal

import msgspec

from engine.types.ids import new_id


class Priority(enum.IntEnum):
    """Delivery priority; lower values are delivered first."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


class Kind(enum.StrEnum):
    """What an envelope is."""

    REQUEST = "request"
    RESPONSE = "response"
    EVENT = "event"
    ERROR = "error"


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of every payload. The tag is the class name."""


class Command(Message, frozen=True, kw_only=True):
    """Something a client asks the engine to do. Its topic is ``cmd.<ClassName>``."""


class Event(Message, frozen=True, kw_only=True):
    """Something that happened. Its topic is ``evt.<ClassName>``."""

    id: str = msgspec.field(default_factory=new_id)
    at: float = msgspec.field(default_factory=time.time)


class Reply(Message, frozen=True, kw_only=True):
    """The answer to a command."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Routing information around one payload (SPEC §3.1)."""

    topic: str
    payload: Message
    kind: Kind = Kind.EVENT
    id: str = msgspec.field(default_factory=new_id)
    source: str = ""
    target: str | None = None
    correlation_id: str | None = None
    priority: Priority = Priority.NORMAL
    timestamp: float = msgspec.field(default_factory=time.time)
    timeout_ms: int | None = None


def command_topic(command: Command | type[Command]) -> str:
    """Topic a command is sent on."""
    cls = command if isinstance(command, type) else type(command)
    return f"cmd.{cls.__name__}"


def event_topic(event: Event | type[Event]) -> str:
    """Topic an event is published on."""
    cls = event if isinstance(event, type) else type(event)
    return f"evt.{cls.__name__}"


# --- replies ---------------------------------------------------------------------------------


class Ack(Reply, frozen=True, kw_only=True):
    """A command was carried out."""

    detail: str = ""


class ErrorReply(Reply, frozen=True, kw_only=True):
    """A command failed; ``code`` is the :class:`SymphonyError` code."""

    code: str
    message: str
    retryable: bool = False


class HealthStatus(enum.StrEnum):
    """Health of one component, from best to worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class ComponentHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Health of one engine component with the reasons behind anything but healthy."""

    name: str
    status: HealthStatus
    reasons: tuple[str, ...] = ()
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class HealthReport(Reply, frozen=True, kw_only=True):
    """Health of every component."""

    components: tuple[ComponentHealth, ...]

    @property
    def status(self) -> HealthStatus:
        """The worst status of any component."""
        order = list(HealthStatus)
        return max(
            (c.status for c in self.components), key=order.index, default=HealthStatus.HEALTHY
        )


class PhaseTiming(msgspec.Struct, frozen=True, kw_only=True):
    """How one bootstrap phase went."""

    name: str
    status: str
    duration_ms: float
    error: str | None = None


class ConfigSnapshot(Reply, frozen=True, kw_only=True):
    """The merged configuration and the layer that set each key."""

    values: dict[str, Any]
    origins: dict[str, str]


# --- commands --------------------------------------------------------------------------------


class GetHealth(Command, frozen=True, kw_only=True):
    """Ask every component for its health. Replies :class:`HealthReport`."""


class GetConfig(Command, frozen=True, kw_only=True):
    """Ask for the merged configuration. Replies :class:`ConfigSnapshot`."""


class ReloadConfig(Command, frozen=True, kw_only=True):
    """Re-read every configuration layer now. Replies :class:`Ack` or :class:`ErrorReply`."""


class SetConfigValue(Command, frozen=True, kw_only=True):
    """Persist ``key = value`` in the user or project configuration file.

    The file is rewritten atomically with its comments kept; the watcher then announces the
    change as :class:`ConfigChanged` like any other edit.
    """

    key: str
    value: Any
    layer: Literal["user", "project"] = "user"


# --- events ----------------------------------------------------------------------------------


class EngineStarted(Event, frozen=True, kw_only=True):
    """Bootstrap finished; every phase is healthy or degraded."""

    phases: tuple[PhaseTiming, ...]
    duration_ms: float
    workspace: str


class EngineFailed(Event, frozen=True, kw_only=True):
    """Bootstrap failed in one phase and rolled back."""

    phases: tuple[PhaseTiming, ...]
    failed_phase: str
    reason: str


class EngineStopped(Event, frozen=True, kw_only=True):
    """The engine shut down."""

    reason: str = "shutdown"


class HealthChanged(Event, frozen=True, kw_only=True):
    """A component's health changed."""

    component: ComponentHealth


class ConfigChanged(Event, frozen=True, kw_only=True):
    """A valid configuration change was applied; ``changed_keys`` are dotted paths."""

    changed_keys: tuple[str, ...]
    values: dict[str, Any] = msgspec.field(default_factory=dict)


class ConfigRejected(Event, frozen=True, kw_only=True):
    """An edit made the configuration invalid; the last good configuration stays in force."""

    message: str
    source: str | None = None
    key: str | None = None


def message_types() -> list[type[Message]]:
    """Every concrete message type defined so far (used to build wire decoders)."""
    found: list[type[Message]] = []
    stack: list[type[Message]] = [Message]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if sub not in (Command, Event, Reply):
                found.append(sub)
    return found
