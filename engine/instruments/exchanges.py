"""Chat exchanges kept as artifacts, and how their cost is told.

Each answered message becomes two artifacts tagged ``chat``: the prompt (the messages sent, with
the model) and the reply (its text, model, token usage and cost), the reply made from the prompt
in the lineage (``symphony artifacts lineage REPLY``). Both pass through
:func:`engine.instruments.secrets.redact` first. Shared by ``symphony chat`` and the engine's
chat service. This module must not talk to models.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.instruments import secrets

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.instruments.client import ChatResult
    from engine.pit.artifacts.store import ArtifactStore

__all__ = ["CHAT_TAG", "Saved", "save_exchange", "summary"]

CHAT_TAG = "chat"
#: What stored chat artifacts name as their producer.
PRODUCER = "symphony.chat"


class Saved:
    """The artifacts of one exchange."""

    def __init__(self, prompt: str, reply: str) -> None:
        self.prompt = prompt
        self.reply = reply


def save_exchange(
    store: ArtifactStore,
    *,
    conversation: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    result: ChatResult,
) -> Saved:
    """Store the prompt and the reply of one exchange (the reply's input is the prompt).

    Raises:
        SymphonyError: the store could not write them.
    """
    from engine.pit.artifacts.models import Producer

    producer = Producer(extension=PRODUCER, model=model)
    prompt = {
        "kind": "chat.prompt",
        "conversation": conversation,
        "model": model,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
    }
    prompt_info = store.put_bytes(
        _json(prompt),
        name=f"chat-{conversation}-prompt",
        tags=(CHAT_TAG, "prompt"),
        media_type="application/json",
        producer=producer,
    )
    usage = result.usage
    reply = {
        "kind": "chat.reply",
        "conversation": conversation,
        "model": model,
        "provider_model": result.model,
        "reply": result.text,
        "usage": None
        if usage is None
        else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "cost": result.cost,
        "finish_reason": result.finish_reason,
        "duration_ms": round(result.duration_ms, 1),
    }
    reply_info = store.put_bytes(
        _json(reply),
        name=f"chat-{conversation}-reply",
        tags=(CHAT_TAG, "reply"),
        media_type="application/json",
        producer=producer,
        inputs=(prompt_info.hash,),
    )
    return Saved(prompt_info.hash, reply_info.hash)


def _json(data: Mapping[str, Any]) -> bytes:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return secrets.redact(text).encode("utf-8")


def summary(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost: float | None,
    duration_ms: float | None = None,
) -> str:
    """``18 tokens (11 in, 7 out) · $0.000123 · 1.2 s``: what an answer used."""
    parts: list[str] = []
    if prompt_tokens is not None and completion_tokens is not None:
        parts.append(
            f"{prompt_tokens + completion_tokens} tokens"
            f" ({prompt_tokens} in, {completion_tokens} out)"
        )
    else:
        parts.append("tokens not reported")
    if cost is not None:
        parts.append(f"${cost:.6f}" if cost < 0.01 else f"${cost:.4f}")
    if duration_ms is not None:
        parts.append(f"{duration_ms / 1000:.1f} s")
    return " · ".join(parts)
