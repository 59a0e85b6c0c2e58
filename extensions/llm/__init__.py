"""Built-in instrument: ``llm.chat`` (ask a configured model) and ``llm.edit`` (ask it for new
contents of workspace files, as proposed changes).

The model is reached only through ``ctx.models`` — Symphony makes the HTTP call, holds the API
key and checks the ``models`` permission. Each call's prompt and reply are stored as artifacts
(the reply with the prompt as its lineage input), with every secret Symphony knows redacted
first. ``llm.edit`` never writes a file: it returns ``changes`` for the review/apply layer.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from engine.instruments.secrets import redact
from extensions.llm.edits import EditFormatError, changes_of, edit_prompt, parse_reply
from symphony_sdk import Instrument, step

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from symphony_sdk import ChatReply, StepContext

__all__ = ["EditFormatError", "LlmInstrument"]

#: Seconds between progress reports while a reply streams in.
PROGRESS_EVERY_S = 0.25


class FileTooLarge(Exception):
    """A file given to a model step is larger than ``max_file_bytes``."""


class LlmInstrument(Instrument):
    """Chat with a configured model, and propose file edits with one."""

    @step("llm.chat")
    def chat(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        paths = inputs.get("files") or []
        files = _read_files(ctx, paths, inputs["max_file_bytes"], missing="fail")
        content = inputs["prompt"]
        if files:
            attached = "\n".join(
                f"File `{path}`:\n~~~~\n{_line_ended(text or '')}~~~~\n"
                for path, (text, _raw) in files.items()
            )
            content = f"{attached}\n{content}"
        messages: list[dict[str, str]] = []
        system = inputs.get("system")
        if system:
            messages.append({"role": "system", "content": str(system)})
        messages.append({"role": "user", "content": content})
        reply, prompt_ref, reply_ref = _ask(ctx, "llm.chat", messages, inputs)
        return {
            "text": reply.text,
            **_accounting(reply),
            "prompt_artifact": prompt_ref,
            "reply_artifact": reply_ref,
        }

    @step("llm.edit")
    def edit(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        paths: list[str] = list(inputs["files"])
        if not paths:
            raise ValueError("files is empty: name the files to edit")
        files = _read_files(ctx, paths, inputs["max_file_bytes"], missing="new")
        allow_create, allow_delete = inputs["allow_create"], inputs["allow_delete"]
        messages = edit_prompt(
            inputs["instruction"],
            {path: text for path, (text, _raw) in files.items()},
            allow_create=allow_create,
            allow_delete=allow_delete,
            system=inputs.get("system"),
        )
        reply, prompt_ref, reply_ref = _ask(ctx, "llm.edit", messages, inputs)
        try:
            parsed = parse_reply(reply.text)
            changes = changes_of(
                parsed,
                {path: raw for path, (_text, raw) in files.items()},
                allow_create=allow_create,
                allow_delete=allow_delete,
                order=list(files),
            )
        except EditFormatError as e:
            cut = ""
            if reply.finish_reason == "length":
                cut = " (the reply was cut off at max_tokens)"
            raise EditFormatError(
                f"model {reply.model!r} did not answer in the edit format{cut}: {e}."
                f" Its reply is artifact {reply_ref[:12]}"
            ) from None
        summary = parsed.summary or (
            f"{len(changes)} file(s) changed" if changes else "no changes proposed"
        )
        return {
            "changes": changes,
            "summary": summary,
            **_accounting(reply),
            "prompt_artifact": prompt_ref,
            "reply_artifact": reply_ref,
        }


def _line_ended(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _read_files(
    ctx: StepContext, paths: Sequence[str], limit: int, *, missing: str
) -> dict[str, tuple[str | None, bytes | None]]:
    """Each path's text and bytes (both None for a missing file when ``missing == "new"``)."""
    found: dict[str, tuple[str | None, bytes | None]] = {}
    for path in paths:
        if path in found:
            continue
        if missing == "new" and not ctx.fs.exists(path):
            found[path] = (None, None)
            continue
        data = ctx.fs.read_bytes(path)
        if len(data) > limit:
            raise FileTooLarge(
                f"{path} is {len(data):,} bytes, more than max_file_bytes ({limit:,})"
            )
        try:
            found[path] = (data.decode("utf-8"), data)
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not UTF-8 text; a model step cannot include it") from None
    return found


def _ask(
    ctx: StepContext, step_type: str, messages: list[dict[str, str]], inputs: Mapping[str, Any]
) -> tuple[ChatReply, str, str]:
    """Store the prompt, call the model, store the reply (lineage: prompt → reply)."""
    params = {k: inputs[k] for k in ("temperature", "max_tokens") if inputs.get(k) is not None}
    prompt = {
        "step_type": step_type,
        "model": inputs.get("model"),
        "params": params,
        "messages": messages,
    }
    prompt_ref = ctx.artifacts.put_bytes(
        redact(json.dumps(prompt, indent=2, ensure_ascii=False)).encode(),
        media_type="application/json",
        tags=["llm", "llm-prompt"],
    )
    received = [0, 0.0]  # characters so far, time of the last progress report

    def on_delta(piece: str) -> None:
        received[0] += len(piece)
        now = time.monotonic()
        if now - received[1] >= PROGRESS_EVERY_S:
            received[1] = now
            ctx.progress(None, f"{int(received[0]):,} characters received")

    # Streaming: the reply's progress shows, and a cancelled step cuts the call mid-reply.
    reply = ctx.models.chat(
        messages, model=inputs.get("model"), params=params, stream=True, on_delta=on_delta
    )
    reply_ref = ctx.artifacts.put_bytes(
        redact(reply.text).encode(),
        media_type="text/plain",
        tags=["llm", "llm-reply"],
        inputs=[prompt_ref.hash],
    )
    ctx.log.info(
        "%s: model %s answered %d characters (%s)",
        step_type,
        reply.model,
        len(reply.text),
        f"{reply.usage.total} tokens" if reply.usage else "usage unknown",
    )
    return reply, prompt_ref.hash, reply_ref.hash


def _accounting(reply: ChatReply) -> dict[str, Any]:
    return {
        "model": reply.model,
        "prompt_tokens": reply.usage.prompt_tokens if reply.usage else None,
        "completion_tokens": reply.usage.completion_tokens if reply.usage else None,
        "cost": reply.cost,
    }
