"""The one bridge between the engine and the UI (STYLE 11).

Engine events arrive on bus delivery threads; the bridge buffers them and posts a single
:class:`EngineEvents` message to the app, which drains the buffer on the UI thread. While the
UI is busy, events accumulate and are delivered as one batch, so a burst of engine events costs
one Textual message rather than thousands (``post_message`` tops out near 30k/s). Commands go
the other way with :meth:`EngineBridge.send`; the reply comes back as :class:`CommandReplied`.
Widgets never touch the engine or the bus: they post messages, and the app calls the bridge.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from engine.types.errors import SymphonyError
from engine.types.messages import Command, EngineFailed, Envelope, Event, command_topic
from engine.types.messages import Message as EngineMessage

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from engine.bus import PendingReply, Subscription
    from engine.runtime import Engine

#: Called on the UI thread with the reply to a command (see :meth:`EngineBridge.send`).
ReplyCallback = Callable[["CommandReplied"], None]

#: Most chatter events (log lines, progress, streamed text) held while the UI is busy; older
#: ones are dropped and counted in :attr:`EngineBridge.dropped`. State events (a step's state,
#: a run's end…) are never dropped: views would show a state that is over.
MAX_BUFFERED_EVENTS = 10_000
#: Events that only add detail; the ones that may be dropped under a flood.
CHATTER = frozenset({"StepLog", "StepProgress", "ChatDelta"})


class EngineEvents(Message):
    """Engine events are waiting; call :meth:`EngineBridge.drain` to take them."""


class CommandReplied(Message):
    """The engine answered a command sent through the bridge."""

    def __init__(
        self,
        command: Command,
        reply: EngineMessage | None,
        error: SymphonyError | None,
        callback: ReplyCallback | None = None,
    ) -> None:
        super().__init__()
        self.command = command
        self.reply = reply
        self.error = error
        #: Given to :meth:`EngineBridge.send`: called with this message on the UI thread.
        self.callback = callback


class EngineBridge:
    """Connect one engine to one Textual message target (normally the app)."""

    def __init__(self, engine: Engine, target: MessagePump) -> None:
        self.engine = engine
        self._target = target
        self._lock = threading.Lock()
        self._buffer: deque[tuple[int, Event]] = deque()
        self._chatter: deque[tuple[int, Event]] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self._seq = 0
        self._posted = False
        self.dropped = 0
        self._subscription: Subscription | None = None

    def start(self) -> None:
        """Subscribe to engine events and start the engine off the UI thread."""
        self._subscription = self.engine.subscribe(self._on_envelope, "evt.*")
        self.engine.on_failure(self._push)
        self.engine.start_background()

    def stop(self) -> None:
        """Stop listening and shut the engine down."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        self.engine.stop()

    # --- engine → UI -------------------------------------------------------------------------

    def _on_envelope(self, envelope: Envelope) -> None:
        if isinstance(envelope.payload, Event):
            self._push(envelope.payload)

    def _push(self, event: Event | EngineFailed) -> None:
        with self._lock:
            self._seq += 1
            if type(event).__name__ in CHATTER:
                if len(self._chatter) == self._chatter.maxlen:
                    self.dropped += 1
                self._chatter.append((self._seq, event))
            else:
                self._buffer.append((self._seq, event))
            if self._posted:
                return
            self._posted = True
        self._target.post_message(EngineEvents())

    def drain(self) -> list[Event]:
        """Take every buffered event, oldest first (call on the UI thread)."""
        with self._lock:
            merged = heapq.merge(self._buffer, self._chatter, key=lambda item: item[0])
            events = [event for _seq, event in merged]
            self._buffer.clear()
            self._chatter.clear()
            self._posted = False
        return events

    # --- UI → engine -------------------------------------------------------------------------

    def send(
        self, command: Command, *, timeout: float = 30.0, callback: ReplyCallback | None = None
    ) -> None:
        """Send a command; the reply arrives later as :class:`CommandReplied` (carrying
        ``callback``, which the app calls)."""
        try:
            pending = self.engine.bus.request_async(
                command_topic(command), command, timeout=timeout
            )
        except SymphonyError as e:
            self._target.post_message(CommandReplied(command, None, e, callback))
            return

        def done(p: PendingReply) -> None:
            try:
                reply: Any = p.result(0)
            except SymphonyError as e:
                self._target.post_message(CommandReplied(command, None, e, callback))
            else:
                self._target.post_message(CommandReplied(command, reply, None, callback))

        pending.add_done_callback(done)
