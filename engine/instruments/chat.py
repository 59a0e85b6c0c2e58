"""The engine's chat service: answers :mod:`engine.instruments.messages` on the bus (the TUI's
chat panel).

``ChatRequest`` is acknowledged at once; the answer runs on a thread of its own, streaming
``ChatDelta`` events (pieces batched to at most one event every :data:`BATCH_S` per answer, so
a fast model does not flood the bus) and ending with one ``ChatFinished`` carrying usage, cost,
a redacted error, and the reply's artifact. ``CancelChat`` sets the answer's cancel event,
which cuts its HTTP stream. At most :data:`MAX_ACTIVE` answers run at once; stopping the engine
cancels them. Must not import Textual.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.instruments import secrets
from engine.instruments.exchanges import save_exchange
from engine.instruments.messages import (
    CancelChat,
    ChatDelta,
    ChatFinished,
    ChatRequest,
    ListModels,
    ModelInfo,
    ModelList,
)
from engine.instruments.models import HOW_TO_CONFIGURE
from engine.types.errors import Cancelled, ModelNotConfigured, SymphonyError, UsageError
from engine.types.messages import Ack, Command, Message, command_topic

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.bus import Bus
    from engine.runtime import Engine

__all__ = ["BATCH_S", "MAX_ACTIVE", "ChatService"]

log = logging.getLogger(__name__)

#: Shortest time between two ChatDelta events of one answer, in seconds.
BATCH_S = 0.03
#: Most answers running at once.
MAX_ACTIVE = 8
#: How long stopping waits for cancelled answers to end, in seconds.
STOP_GRACE = 5.0


class _Answer:
    def __init__(self, cmd: ChatRequest) -> None:
        self.cmd = cmd
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.pending: list[str] = []
        self.thread: threading.Thread | None = None


class ChatService:
    """Chat answers for bus clients; one per engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._active: dict[str, _Answer] = {}

    def register(self, bus: Bus) -> None:
        """Answer the chat commands on ``bus``."""
        handlers: dict[type[Command], Callable[[Any], Message]] = {
            ChatRequest: self._chat,
            CancelChat: self._cancel,
            ListModels: self._list,
        }
        for cls, fn in handlers.items():
            bus.handle(command_topic(cls), on_payload(fn))

    def stop(self) -> None:
        """Cancel every answer and wait (a little) for them to end."""
        with self._lock:
            active = list(self._active.values())
        for answer in active:
            answer.cancel.set()
        deadline = time.monotonic() + STOP_GRACE
        for answer in active:
            if answer.thread is not None:
                answer.thread.join(max(0.0, deadline - time.monotonic()))

    # --- handlers ----------------------------------------------------------------------------

    def _list(self, _cmd: ListModels) -> ModelList:
        import os

        aide = self._engine.config.aide
        infos = tuple(
            ModelInfo(
                name=name,
                model=m.model,
                base_url=m.base_url,
                api_key_env=m.api_key_env,
                key_set=not m.api_key_env or bool(os.environ.get(m.api_key_env)),
                input_price=m.input_price,
                output_price=m.output_price,
            )
            for name, m in sorted(aide.models.items())
        )
        try:
            default: str | None = self._engine.models.resolve() if infos else None
        except ModelNotConfigured:
            default = None
        return ModelList(models=infos, default=default, how_to="" if infos else HOW_TO_CONFIGURE)

    def _chat(self, cmd: ChatRequest) -> Ack:
        if not cmd.messages:
            raise UsageError("ChatRequest needs at least one message")
        self._engine.models.resolve(cmd.model)  # no model: refuse now, with the how-to
        answer = _Answer(cmd)
        with self._lock:
            if len(self._active) >= MAX_ACTIVE:
                raise UsageError(f"{MAX_ACTIVE} answers are running already; cancel one or wait")
            if cmd.request_id in self._active:
                raise UsageError(f"chat request {cmd.request_id} is running already")
            self._active[cmd.request_id] = answer
        answer.thread = threading.Thread(
            target=self._answer, args=(answer,), name="symphony-chat", daemon=True
        )
        answer.thread.start()
        return Ack(detail=cmd.request_id)

    def _cancel(self, cmd: CancelChat) -> Ack:
        with self._lock:
            answer = self._active.get(cmd.request_id)
        if answer is None:
            return Ack(detail="not running")
        answer.cancel.set()
        return Ack(detail="cancelling")

    # --- one answer --------------------------------------------------------------------------

    def _emit(self, event: ChatDelta | ChatFinished) -> None:
        bus = self._engine.bus
        if not bus.closed:
            bus.emit(event)

    def _flush(self, answer: _Answer) -> None:
        with answer.lock:
            text, answer.pending = "".join(answer.pending), []
        if text:
            cmd = answer.cmd
            self._emit(
                ChatDelta(conversation=cmd.conversation, request_id=cmd.request_id, text=text)
            )

    def _batcher(self, answer: _Answer) -> None:
        while not answer.done.wait(BATCH_S):
            self._flush(answer)

    def _answer(self, answer: _Answer) -> None:
        cmd = answer.cmd
        name = cmd.model or ""
        finished: dict[str, Any] = {}
        batcher = threading.Thread(
            target=self._batcher, args=(answer,), name="symphony-chat-batch", daemon=True
        )
        batcher.start()

        def on_delta(text: str) -> None:
            with answer.lock:
                answer.pending.append(text)

        messages = [{"role": m.role, "content": m.content} for m in cmd.messages]
        try:
            name = self._engine.models.resolve(cmd.model)
            result = self._engine.models.chat(
                messages, model=name, stream=True, on_delta=on_delta, cancel=answer.cancel
            )
        except Cancelled:
            finished = {"cancelled": True, "error": "cancelled"}
        except SymphonyError as e:
            finished = {"error": secrets.redact(e.message)}
        except Exception as e:  # a bug must still end the answer for the panel
            log.exception("chat answer failed")
            finished = {"error": secrets.redact(f"{type(e).__name__}: {e}")}
        else:
            usage = result.usage
            finished = {
                "text": result.text,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "cost": result.cost,
                "duration_ms": result.duration_ms,
            }
            if cmd.save:
                finished["artifact"] = self._save(cmd, name, messages, result)
        finally:
            answer.done.set()
            batcher.join()
            self._flush(answer)
            with self._lock:
                self._active.pop(cmd.request_id, None)
        self._emit(
            ChatFinished(
                conversation=cmd.conversation, request_id=cmd.request_id, model=name, **finished
            )
        )

    def _save(
        self, cmd: ChatRequest, name: str, messages: list[dict[str, str]], result: Any
    ) -> str | None:
        try:
            store = self._engine.pit.store()
            saved = save_exchange(
                store, conversation=cmd.conversation, model=name, messages=messages, result=result
            )
        except SymphonyError as e:
            log.warning("chat exchange not kept as an artifact: %s", e)
            return None
        return saved.reply
