"""The chat panel: talk to a configured model in the bottom panel.

A message goes to the engine as ``ChatRequest`` (with the conversation so far); the answer
streams in as ``ChatDelta`` events into a Markdown block and ends with ``ChatFinished``, after
which the tokens and cost are shown. ``@path`` mentions attach workspace files exactly as
``symphony chat`` does (:mod:`engine.instruments.mentions`, read on a worker thread). ``escape``
or Cancel stops the answer (the engine cuts its HTTP stream). With several models a picker
chooses one; with none the panel says how to configure one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Markdown, Select, Static

from engine.instruments.exchanges import summary
from engine.instruments.messages import (
    CancelChat,
    ChatDelta,
    ChatFinished,
    ChatMessage,
    ChatRequest,
    ListModels,
    ModelList,
)
from engine.types.errors import SymphonyError
from engine.types.ids import new_id
from engine.types.messages import ConfigChanged, EngineStarted

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import ComposeResult

    from engine.instruments.mentions import Prepared
    from engine.types.messages import Event
    from symphony_tui.app import SymphonyApp

__all__ = ["ChatPanel"]


class ChatPanel(Vertical):
    """A conversation with a configured model: transcript, input line, model picker."""

    DEFAULT_CSS = """
    ChatPanel { height: 1fr; }
    ChatPanel > #chat-log { height: 1fr; padding: 0 1; background: $surface; }
    ChatPanel > #chat-row { height: 1; }
    ChatPanel #chat-input { width: 1fr; height: 1; border: none; padding: 0 1; }
    ChatPanel #chat-model { width: 24; height: 1; }
    ChatPanel #chat-model > SelectCurrent { border: none; height: 1; padding: 0 1; }
    ChatPanel #chat-row Button { min-width: 8; height: 1; border: none; margin-left: 1; }
    ChatPanel .chat-you { color: $text-accent; text-style: bold; margin-top: 1; }
    ChatPanel .chat-answer { margin: 0; padding: 0; background: $surface; }
    ChatPanel .chat-meta { color: $text-muted; }
    ChatPanel .chat-error { color: $text-error; }
    ChatPanel #chat-notice { color: $text-warning; }
    """

    BINDINGS = [
        Binding("escape", "cancel_answer", "Cancel answer", id="chat_cancel"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.conversation = new_id()
        self.history: list[ChatMessage] = []
        self.models: ModelList | None = None
        #: The answer coming in, if any.
        self.request_id: str | None = None
        self.last: ChatFinished | None = None
        self._asked: ChatMessage | None = None
        self._answer: Markdown | None = None

    @property
    def symphony(self) -> SymphonyApp:
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="chat-log"):
            yield Static("", id="chat-notice")
        with Horizontal(id="chat-row"):
            yield Input(
                placeholder="Ask the model · @path attaches a file · escape cancels",
                id="chat-input",
            )
            yield Select[str]([], id="chat-model", allow_blank=True, prompt="model", compact=True)
            yield Button("Send", id="chat-send", variant="primary", compact=True)
            yield Button("Cancel", id="chat-cancel", compact=True, disabled=True)

    def on_mount(self) -> None:
        self.query_one("#chat-model", Select).display = False
        self.symphony.add_engine_listener(self)
        self.refresh_models()

    def on_unmount(self) -> None:
        self.symphony.remove_engine_listener(self)

    def focus(self, scroll_visible: bool = True) -> ChatPanel:
        self.query_one("#chat-input", Input).focus(scroll_visible)
        return self

    @property
    def answering(self) -> bool:
        return self.request_id is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # escape (and the footer's entry) only while an answer is coming
        if action == "cancel_answer":
            return self.answering
        return True

    # --- models ------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Ask the engine which models are configured (once it is up)."""
        engine = self.symphony.engine
        if engine.ready and not engine.failed:
            self.symphony.request(ListModels(), self._models_listed, lambda _e: None)

    def _models_listed(self, reply: ModelList) -> None:
        self.models = reply
        notice = self.query_one("#chat-notice", Static)
        select: Select[str] = self.query_one("#chat-model", Select)
        if not reply.models:
            notice.update(_how_to(reply.how_to))
            notice.display = True
            select.display = False
            return
        notice.display = False
        names = [m.name for m in reply.models]
        current = select.value if isinstance(select.value, str) else None
        select.set_options([(name, name) for name in names])
        chosen = current if current in names else reply.default or names[0]
        select.value = chosen
        select.display = len(names) > 1

    @property
    def model(self) -> str | None:
        """The model picked (None: the engine's default)."""
        select: Select[str] = self.query_one("#chat-model", Select)
        return select.value if isinstance(select.value, str) else None

    # --- asking ------------------------------------------------------------------------------

    @on(Input.Submitted, "#chat-input")
    @on(Button.Pressed, "#chat-send")
    def _submitted(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        box = self.query_one("#chat-input", Input)
        text = box.value.strip()
        if not text:
            return
        if self.answering:
            self.notify("an answer is coming; escape cancels it", severity="warning")
            return
        if self.models is not None and not self.models.models:
            self.notify(self.models.how_to, title="No AI model", severity="warning", timeout=10)
            return
        box.value = ""
        self._prepare(text)

    @work(thread=True, exclusive=True, group="chat-attach")
    def _prepare(self, text: str) -> None:
        from engine.instruments.mentions import attach

        try:
            prepared = attach(text, self.symphony.workspace)
        except SymphonyError as e:
            self.app.call_from_thread(self._refused, text, e)
            return
        self.app.call_from_thread(self._send, prepared)

    def _log(self) -> VerticalScroll:
        return self.query_one("#chat-log", VerticalScroll)

    def _add(self, *widgets: Static | Markdown) -> None:
        log = self._log()
        log.mount_all(widgets)
        log.scroll_end(animate=False)

    def _refused(self, text: str, error: SymphonyError) -> None:
        self._add(
            Static(Text(f"you  {text}"), classes="chat-you"),
            Static(Text(f"✖ {error}"), classes="chat-error"),
        )

    def _send(self, prepared: Prepared) -> None:
        request_id = new_id()
        self.request_id = request_id
        self._asked = ChatMessage(role="user", content=prepared.content)
        self._answer = Markdown("", classes="chat-answer")
        you = Text(f"you  {prepared.question}")
        if prepared.attachments:
            you.append(f"  (+ {', '.join(a.path for a in prepared.attachments)})", style="dim")
        self._add(Static(you, classes="chat-you"), self._answer)
        self._buttons()
        self.symphony.request(
            ChatRequest(
                conversation=self.conversation,
                messages=(*self.history, self._asked),
                model=self.model,
                request_id=request_id,
            ),
            lambda _ack: None,
            lambda e: self._ended(request_id, f"✖ {e}"),
        )

    def _buttons(self) -> None:
        self.query_one("#chat-cancel", Button).disabled = not self.answering
        self.query_one("#chat-send", Button).disabled = self.answering
        self.refresh_bindings()

    @on(Button.Pressed, "#chat-cancel")
    def action_cancel_answer(self) -> None:
        """Stop the answer coming in (what arrived so far stays)."""
        if self.request_id is not None:
            self.symphony.request(CancelChat(request_id=self.request_id), lambda _ack: None)

    def _ended(self, request_id: str, line: str, *, error: bool = True) -> None:
        if request_id != self.request_id:
            return
        self.request_id = None
        self._answer = None
        self._add(Static(Text(line), classes="chat-error" if error else "chat-meta"))
        self._buttons()

    # --- the answer --------------------------------------------------------------------------

    def engine_events(self, events: Sequence[Event]) -> None:
        pieces: list[str] = []
        for event in events:
            if isinstance(event, ChatDelta):
                if event.request_id == self.request_id and self._answer is not None:
                    pieces.append(event.text)
            elif isinstance(event, ChatFinished):
                if event.request_id == self.request_id:
                    self._append(pieces)
                    pieces = []
                    # After the answer's last piece is in (the calls run in order).
                    self.call_later(self._finished, event)
            elif isinstance(event, EngineStarted) or (
                isinstance(event, ConfigChanged)
                and any(k.startswith("aide.") for k in event.changed_keys)
            ):
                self.refresh_models()
        self._append(pieces)

    def _append(self, pieces: list[str]) -> None:
        """Add ``pieces`` to the answer: one append per batch, each after the one before.

        ``Markdown.append`` works out what to parse when called and parses it later, so two
        appends in flight at once would show blocks twice.
        """
        if pieces and self._answer is not None:
            self.call_later(self._append_now, self._answer, "".join(pieces))

    async def _append_now(self, answer: Markdown, text: str) -> None:
        await answer.append(text)
        self._log().scroll_end(animate=False)

    def _finished(self, event: ChatFinished) -> None:
        self.last = event
        if event.error and not event.cancelled:
            self._ended(event.request_id, f"✖ {event.error}")
            return
        if event.cancelled:
            self._ended(event.request_id, "answer cancelled", error=False)
            return
        if self._asked is not None:
            self.history += [self._asked, ChatMessage(role="assistant", content=event.text)]
        used = summary(event.prompt_tokens, event.completion_tokens, event.cost)
        self._ended(event.request_id, f"{event.model} · {used}", error=False)


def _how_to(text: str) -> Text:
    """The engine's how-to-configure text, its first line as a heading."""
    first, _, rest = text.partition("\n")
    shown = Text(first[:1].upper() + first[1:], style="bold")
    for line in rest.splitlines():
        shown.append("\n")
        shown.append(line, style="not bold")
    shown.append(
        "\nThe panel picks a model up as soon as the configuration has one.", style="dim not bold"
    )
    return shown
