"""Extensions' access to the configured models, and what a cached step's key must know of them.

:func:`chat` is what ``ctx.models.chat`` does in the engine, for an extension in Symphony's
process or in its own (the host's request ends up here too): check the ``models`` permission
(audited like every capability), call the model through
:class:`~engine.instruments.models.Models` (its concurrency limit, retries, cancellation), and
hand back the reply with every registered secret redacted — a provider that echoes the API key
cannot put it in the extension's hands, hence not in step outputs, artifacts or logs either.
Streamed pieces are redacted as well: text that could be the start of a secret is held back
until the next piece shows it is not.

:func:`fingerprint` is the part of a step's cache key that covers the models its extension may
call (endpoint, model name, default parameters), so changing a model's configuration makes the
next run of an AI step a cache miss.

This module must not import httpx (only :class:`Models` does, when a model is used).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from engine.instruments import secrets
from engine.instruments.models import HOW_TO_CONFIGURE
from engine.instruments.secrets import DeltaRedactor
from engine.types.errors import ModelNotConfigured
from symphony_sdk.context import ChatReply, TokenUsage

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping, Sequence

    from engine.config.models import AideConfig
    from engine.extensions.permissions import PermissionGuard
    from engine.instruments.models import Models

__all__ = ["FINGERPRINT_FIELDS", "DeltaRedactor", "chat", "check_messages", "fingerprint"]

#: The fields of a model's configuration that change what it answers (its cache fingerprint);
#: timeouts, retries, limits, prices and the key variable do not.
FINGERPRINT_FIELDS = ("base_url", "model", "temperature", "max_tokens")


def granted(grants: Sequence[str], name: str) -> bool:
    """Whether a ``models`` permission list grants the model ``name``."""
    return any(g == "*" or fnmatch.fnmatchcase(name, g) for g in grants)


def fingerprint(aide: AideConfig, grants: Sequence[str]) -> dict[str, Any] | None:
    """What a cache key must cover of the models an extension with ``grants`` may call.

    None when it may call none (its steps' keys stay as they were). Otherwise the default
    model's name and, for every configured model it may call, the fields of
    :data:`FINGERPRINT_FIELDS`: a step resolves its model when it runs, so the key covers each
    model it could resolve to.
    """
    if not grants:
        return None
    return {
        "default": aide.default_model,
        "models": {
            name: {field: getattr(config, field) for field in FINGERPRINT_FIELDS}
            for name, config in sorted(aide.models.items())
            if granted(grants, name)
        },
    }


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """``messages`` as a list of plain dicts, each with a string ``role``.

    Raises:
        ValueError: not a list of ``{"role": ..., "content": ...}`` mappings.
    """
    if not isinstance(messages, list | tuple) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...}")
    found: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not hasattr(message, "get") or not isinstance(message.get("role"), str):
            raise ValueError(f"messages[{i}] must be a mapping with a string 'role'")
        found.append(dict(message))
    return found


def chat(
    registry: Models | None,
    guard: PermissionGuard,
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    params: Mapping[str, Any] | None = None,
    stream: bool = False,
    on_delta: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> ChatReply:
    """One permission-checked, audited model call on an extension's behalf (``ctx.models.chat``).

    A model named explicitly is checked before anything else, so a refused name is refused
    whether or not it is configured; without a name the default is resolved first.

    Raises:
        ModelNotConfigured, PermissionDenied, ModelError, ModelUnavailable, Cancelled,
        ValueError: see :meth:`symphony_sdk.context.Models.chat`.
    """
    body = check_messages(messages)
    if params is not None and not hasattr(params, "items"):
        raise ValueError("params must be a mapping of request fields")
    if model is not None:
        guard.model(model)
    if registry is None or not registry.configured:
        raise ModelNotConfigured(HOW_TO_CONFIGURE)
    name = registry.resolve(model)
    if model is None:
        guard.model(name)
    redactor = DeltaRedactor(on_delta) if on_delta is not None else None
    result = registry.chat(
        body,
        model=name,
        stream=stream,
        on_delta=redactor.feed if redactor is not None else None,
        cancel=cancel,
        params=dict(params) if params else None,
    )
    if redactor is not None:
        redactor.flush()
    usage = (
        TokenUsage(result.usage.prompt_tokens, result.usage.completion_tokens)
        if result.usage is not None
        else None
    )
    spent = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "usage unknown"
    cost = f", ${result.cost:.6f}" if result.cost is not None else ""
    guard.record("models.usage", name, f"{spent}{cost}, {result.duration_ms:.0f} ms")
    return ChatReply(
        text=secrets.redact(result.text),
        model=name,
        usage=usage,
        cost=result.cost,
        provider_model=secrets.redact(result.model),
        finish_reason=result.finish_reason,
        duration_ms=result.duration_ms,
    )
