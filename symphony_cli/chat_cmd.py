"""``symphony chat [MESSAGE]``: talk to a configured model from the shell.

With MESSAGE (or a message piped on stdin) one answer is streamed to stdout as it comes, then
what it used (tokens, cost when the model has prices) goes to stderr; ``--json`` prints one JSON
document instead. On a terminal without MESSAGE it is a conversation: ``you> `` prompts, the
history is kept, ``/exit`` or ctrl+d ends it, ctrl+c cancels the answer in progress (its HTTP
stream is cut) and, pressed again at the prompt, leaves. ``@path`` attaches a workspace file
(:mod:`engine.instruments.mentions`). Each exchange is kept as artifacts tagged ``chat``
(:mod:`engine.instruments.exchanges`). Exit codes: 0, 1 the model failed, 2 no model or a bad
mention, 3 the model stayed unavailable, 130 cancelled.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.types.errors import (
    EXIT_INTERRUPTED,
    Interrupted,
    ModelError,
    SymphonyError,
    UsageError,
)
from symphony_cli.output import WorkspaceOption, emit_json, load_workspace_config, say

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.config import LoadedConfig
    from engine.instruments.client import ChatResult
    from engine.instruments.exchanges import Saved
    from engine.instruments.mentions import Prepared
    from engine.pit.artifacts.store import ArtifactStore

#: How long a cancelled answer may take to wind down before the command stops waiting for it.
CANCEL_GRACE = 2.0
EXIT_WORDS = frozenset({"/exit", "/quit"})


class ChatSession:
    """One conversation with one model, in this process."""

    def __init__(
        self, root: Path, loaded: LoadedConfig, model: str | None, system: str | None
    ) -> None:
        from engine.instruments.models import Models
        from engine.types.ids import new_id

        self.root = root
        self.loaded = loaded
        self.models = Models(lambda: loaded.config.aide)
        self.name = self.models.resolve(model)
        self.conversation = new_id()
        self.history: list[dict[str, str]] = (
            [{"role": "system", "content": system}] if system else []
        )
        self._store: ArtifactStore | None = None

    def close(self) -> None:
        self.models.close()
        if self._store is not None:
            self._store.close()

    def ask(
        self, text: str, on_delta: Callable[[str], None] | None
    ) -> tuple[ChatResult, Prepared, Saved | None]:
        """Answer ``text`` (with its ``@`` mentions attached); the exchange joins the history.

        Raises:
            UsageError: a mention is wrong.
            Interrupted: ctrl+c cancelled the answer.
            ModelError: the model failed.
        """
        from engine.instruments.mentions import attach

        prepared = attach(text, self.root)
        messages = [*self.history, {"role": "user", "content": prepared.content}]
        result = self._complete(messages, on_delta)
        self.history += [messages[-1], {"role": "assistant", "content": result.text}]
        return result, prepared, self._save(messages, result)

    def _complete(
        self, messages: list[dict[str, str]], on_delta: Callable[[str], None] | None
    ) -> ChatResult:
        # The call runs on a worker so ctrl+c (a KeyboardInterrupt here) can set the cancel
        # event, which cuts the HTTP stream, instead of unwinding through the HTTP client.
        cancel = threading.Event()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self.models.chat(
                    messages, model=self.name, stream=True, on_delta=on_delta, cancel=cancel
                )
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        worker = threading.Thread(target=work, name="symphony-chat", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
        except KeyboardInterrupt:
            cancel.set()
            worker.join(CANCEL_GRACE)
            raise Interrupted("answer cancelled") from None
        if "error" in box:
            raise box["error"]
        result: ChatResult = box["result"]
        return result

    def _save(self, messages: list[dict[str, str]], result: ChatResult) -> Saved | None:
        from engine.instruments.exchanges import save_exchange
        from engine.pit.artifacts.store import ArtifactStore

        try:
            if self._store is None:
                self._store = ArtifactStore.for_workspace(
                    self.root, self.loaded.config.aide.artifacts
                )
            return save_exchange(
                self._store,
                conversation=self.conversation,
                model=self.name,
                messages=messages,
                result=result,
            )
        except SymphonyError as e:
            say(f"symphony: warning: the exchange was not kept as an artifact: {e}")
            return None


def chat(
    ctx: typer.Context,
    message: Annotated[
        str | None,
        typer.Argument(
            metavar="[MESSAGE]",
            help="What to ask; @path attaches a workspace file. Without it: stdin, or a"
            " conversation on a terminal.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="NAME", help="The model (default: the default)."),
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", metavar="TEXT", help="A system prompt.")
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the answer as one JSON document.")
    ] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Chat with a configured AI model: one answer, or a conversation on a terminal."""
    root, loaded = load_workspace_config(ctx, workspace)
    if message is None and sys.stdin.isatty():
        if json_:
            raise UsageError("--json needs a MESSAGE (or one piped on stdin)")
        session = ChatSession(root, loaded, model, system)
        try:
            _converse(session)
        finally:
            session.close()
        return
    if message is None:
        message = sys.stdin.read()
    if not message.strip():
        raise UsageError("nothing to ask: give a MESSAGE or pipe one on stdin")
    session = ChatSession(root, loaded, model, system)
    try:
        _one_shot(session, message.strip(), json_)
    finally:
        session.close()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _one_shot(session: ChatSession, message: str, json_: bool) -> None:
    if json_:
        result, prepared, saved = session.ask(message, None)
        usage = result.usage
        emit_json(
            {
                "conversation": session.conversation,
                "model": session.name,
                "provider_model": result.model,
                "reply": result.text,
                "attachments": [a.path for a in prepared.attachments],
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "cost": result.cost,
                "duration_ms": round(result.duration_ms, 1),
                "artifacts": None
                if saved is None
                else {"prompt": saved.prompt, "reply": saved.reply},
            }
        )
        return
    try:
        result, _prepared, saved = session.ask(message, _write)
    except Interrupted:
        _write("\n")
        raise
    _write("\n")
    say(_used(result, saved))


def _used(result: ChatResult, saved: Saved | None) -> str:
    from engine.instruments.exchanges import summary

    usage = result.usage
    line = summary(
        usage.prompt_tokens if usage else None,
        usage.completion_tokens if usage else None,
        result.cost,
        result.duration_ms,
    )
    return f"[{line}{f' · artifact {saved.reply[:12]}' if saved else ''}]"


def _converse(session: ChatSession) -> None:
    import contextlib

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())

    config = session.models.config(session.name)
    say(
        f"chatting with {session.name} ({config.model} at {config.base_url});"
        " /exit or ctrl+d leaves, ctrl+c cancels an answer, @path attaches a file"
    )
    interrupted = False
    while True:
        try:
            line = input("you> ")
        except EOFError:
            _write("\n")
            return
        except KeyboardInterrupt:
            _write("\n")
            if interrupted:
                raise typer.Exit(EXIT_INTERRUPTED) from None
            interrupted = True
            say("(ctrl+c again, /exit or ctrl+d leaves)")
            continue
        interrupted = False
        text = line.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            return
        try:
            result, prepared, saved = session.ask(text, _write)
        except Interrupted:
            _write("\n")
            say("(answer cancelled; ctrl+c again leaves)")
            interrupted = True
            continue
        except (UsageError, ModelError) as e:
            say(f"symphony: error: {e}")
            continue
        _write("\n")
        if prepared.attachments:
            say(f"[attached {', '.join(a.path for a in prepared.attachments)}]")
        say(_used(result, saved))


__all__ = ["ChatSession", "chat"]
