"""The configured models (``aide.models``), one client each, and their call limits.

:class:`Models` resolves a name (or the default model) to a :class:`ChatClient`, keeps one
client per model while its configuration is unchanged (a changed entry gets a new client), and
lets at most ``max_concurrent`` calls of a model run at once: more wait for a slot, and a
cancelled caller stops waiting. Per-model totals (calls, errors, tokens, cost) are kept for
``symphony models list`` and the TUI.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.instruments import secrets
from engine.types.errors import Cancelled, ModelError, ModelNotConfigured

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.config.models import AideConfig, ModelConfig
    from engine.instruments.client import ChatClient, ChatResult

__all__ = ["HOW_TO_CONFIGURE", "ModelTotals", "Models"]

HOW_TO_CONFIGURE = (
    "no AI model is configured. Add one for any OpenAI-compatible server, e.g.\n"
    "  symphony models add local --base-url http://localhost:11434/v1 --model llama3.2\n"
    "  symphony models add openai --base-url https://api.openai.com/v1 --model gpt-4o-mini"
    " --api-key-env OPENAI_API_KEY\n"
    "or an [aide.models.NAME] table in .symphony/config.toml (see docs/instruments.md)"
)


@dataclass(slots=True)
class ModelTotals:
    """What one model was used for in this process."""

    calls: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class _Entry:
    def __init__(
        self,
        name: str,
        config: ModelConfig,
        environ: Mapping[str, str] | None,
        slots: threading.BoundedSemaphore | None = None,
    ) -> None:
        from engine.instruments.client import ChatClient  # httpx only when a model is used

        self.config = config
        self.client = ChatClient(name, config, environ=environ)
        self.slots = slots or threading.BoundedSemaphore(config.max_concurrent)


class Models:
    """Configured models for one engine (or one CLI command).

    Args:
        aide: returns the current ``aide`` configuration (read on every call, so a reloaded
            configuration takes effect).
        environ: where API key variables are read.
    """

    def __init__(
        self, aide: Callable[[], AideConfig], *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._aide = aide
        self._environ = environ
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._retired: list[ChatClient] = []
        self.totals: dict[str, ModelTotals] = {}

    def register_keys(self) -> None:
        """Register the API key of every configured model for redaction now, before anything
        (a prompt artifact, a log line) could hold one — not only when a request is made."""
        import os

        from engine.instruments import secrets

        environ = self._environ if self._environ is not None else os.environ
        try:
            models = self._aide().models
        except Exception:  # the configuration is not loaded yet
            return
        for config in models.values():
            if config.api_key_env:
                secrets.register(environ.get(config.api_key_env))

    def names(self) -> list[str]:
        return sorted(self._aide().models)

    @property
    def configured(self) -> bool:
        return bool(self._aide().models)

    def resolve(self, name: str | None = None) -> str:
        """The model to use for ``name`` (None: ``aide.default_model``, else the only one).

        Raises:
            ModelNotConfigured: no model at all, or ``name`` is not one of them.
        """
        aide = self._aide()
        if not aide.models:
            raise ModelNotConfigured(HOW_TO_CONFIGURE)
        wanted = name or aide.default_model
        if wanted is None:
            if len(aide.models) == 1:
                return next(iter(aide.models))
            raise ModelNotConfigured(
                f"several models are configured ({', '.join(sorted(aide.models))}): name one,"
                " or set aide.default_model"
            )
        if wanted not in aide.models:
            raise ModelNotConfigured(
                f"no model named {wanted!r} (configured: {', '.join(sorted(aide.models))})"
            )
        return wanted

    def client(self, name: str | None = None) -> ChatClient:
        """The client of a model (see :meth:`resolve`)."""
        return self._entry(self.resolve(name)).client

    def config(self, name: str | None = None) -> ModelConfig:
        return self._aide().models[self.resolve(name)]

    def _entry(self, name: str) -> _Entry:
        config = self._aide().models[name]
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.config != config:
                slots = None
                if entry is not None:
                    # Calls in flight keep the old client (closed with the registry) and still
                    # count against the same limit when it did not change.
                    self._retired.append(entry.client)
                    if entry.config.max_concurrent == config.max_concurrent:
                        slots = entry.slots
                entry = self._entries[name] = _Entry(name, config, self._environ, slots)
            return entry

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        """A chat completion with a model, within its concurrency limit.

        Raises:
            ModelNotConfigured, ModelError, ModelUnavailable, Cancelled: see
            :meth:`ChatClient.chat`.
        """
        name = self.resolve(model)
        self.register_keys()
        refuse_secrets(messages)
        entry = self._entry(name)
        cancel = cancel or threading.Event()
        while not entry.slots.acquire(timeout=0.1):
            if cancel.is_set():
                raise Cancelled(f"model {name!r}: cancelled while waiting for a free slot")
        totals = self.totals.setdefault(name, ModelTotals())
        # What comes back is redacted too (a model quoting a key), pieces included.
        redactor = secrets.DeltaRedactor(on_delta) if on_delta is not None else None
        try:
            result = entry.client.chat(
                messages,
                stream=stream,
                on_delta=redactor.feed if redactor is not None else None,
                cancel=cancel,
                params=params,
            )
            if redactor is not None:
                redactor.flush()
            result = dataclasses.replace(result, text=secrets.redact(result.text))
        except Exception:
            with self._lock:
                totals.calls += 1
                totals.errors += 1
            raise
        finally:
            entry.slots.release()
        with self._lock:
            totals.calls += 1
            if result.usage is not None:
                totals.prompt_tokens += result.usage.prompt_tokens
                totals.completion_tokens += result.usage.completion_tokens
            totals.cost += result.cost or 0.0
        return result

    def close(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.client.close()
            for client in self._retired:
                client.close()
            self._entries.clear()
            self._retired.clear()


def refuse_secrets(messages: Sequence[Mapping[str, Any]]) -> None:
    """Refuse to send a prompt that holds a configured API key (a ``.env`` attached, say):
    it would leave the machine, and a reply quoting it back comes redacted, so an edit built
    from it would write ``[redacted]`` over the real key.

    Raises:
        ModelError: which message holds a key.
    """
    for i, message in enumerate(messages):
        content = message.get("content")
        text = content if isinstance(content, str) else str(content)
        if secrets.redact(text) != text:
            raise ModelError(
                f"messages[{i}] holds a configured API key (an attached file such as .env?);"
                " it is not sent to the model: leave that file out"
            )


def probe(models: Models, name: str) -> tuple[ChatResult, float]:
    """Ask a model for a one-word reply (``symphony models test``). Returns the result, whose
    ``duration_ms`` is the wall time of the call, and the time to the first streamed piece, in
    ms, both from the moment the request is sent (the client is set up before)."""
    models.client(name)  # httpx and the connection pool, outside the timing
    first: list[float] = []
    t0 = time.perf_counter()

    def delta(_text: str) -> None:
        if not first:
            first.append((time.perf_counter() - t0) * 1000)

    result = models.chat(
        [{"role": "user", "content": "Reply with the single word: ready"}],
        model=name,
        stream=True,
        on_delta=delta,
    )
    total = (time.perf_counter() - t0) * 1000
    return dataclasses.replace(result, duration_ms=total), first[0] if first else total
