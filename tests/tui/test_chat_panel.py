"""The chat panel driven as a user would (Pilot), in the real SymphonyApp whose engine talks to
a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual.widgets import Input, Markdown, Select, Static

from symphony_tui.app import SymphonyApp
from symphony_tui.views.chat import ChatPanel
from symphony_tui.widgets.status_bar import StatusBar
from tests.support.model_server import Behaviour, ModelServer
from tests.tui.helpers import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from textual.pilot import Pilot


def configure(ws: Path, server: ModelServer, *names: str, default: str = "") -> None:
    (ws / ".symphony").mkdir(exist_ok=True)
    text = f'[aide]\ndefault_model = "{default}"\n' if default else ""
    for name in names or ("local",):
        text += (
            f'[aide.models.{name}]\nbase_url = "{server.base_url}"\nmodel = "{name}-m"\n'
            "input_price = 2.0\noutput_price = 8.0\nmax_retries = 0\n"
        )
    (ws / ".symphony" / "config.toml").write_text(text)


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    await wait_for(pilot, predicate, timeout)


async def open_chat(pilot: Pilot[Any], app: SymphonyApp) -> ChatPanel:
    await until(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    await pilot.press("f12")
    panel = app.screen.query_one(ChatPanel)
    await until(pilot, lambda: panel.models is not None)
    await until(pilot, lambda: isinstance(app.focused, Input))
    return panel


def answers(panel: ChatPanel) -> list[str]:
    return [m.source for m in panel.query(Markdown).results(Markdown)]


def lines(panel: ChatPanel, cls: str) -> list[str]:
    return [str(s.render()) for s in panel.query(f".{cls}").results(Static)]


async def test_ask_see_the_answer_stream_in_then_its_cost(
    workspace: Path, server: ModelServer
) -> None:
    configure(workspace, server)
    server.then(
        # the provider pauses after the first piece: the answer is on screen while it goes on
        Behaviour(
            text="It prints **hello** when run.",
            chunk_delay=0.05,
            stall_mid_stream=1.0,
            usage=(1000, 500),
        ),
        Behaviour(text="Yes."),
    )
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        assert not panel.query_one("#chat-model", Select).display  # one model: no picker
        await pilot.press(*"what does @main.py do?", "enter")
        await until(pilot, lambda: panel.answering)
        # streamed: part of the answer is on screen before the whole of it
        await until(pilot, lambda: bool(answers(panel)) and answers(panel)[0] != "")
        assert answers(panel) == ["It"] and panel.answering
        await until(pilot, lambda: panel.last is not None)
        assert answers(panel) == ["It prints **hello** when run."]
        assert lines(panel, "chat-you")[0].startswith("you  what does @main.py do?")
        assert "(+ main.py)" in lines(panel, "chat-you")[0]
        assert lines(panel, "chat-meta") == ["local · 1500 tokens (1000 in, 500 out) · $0.006000"]
        sent = server.requests[0].body["messages"][-1]["content"]
        assert "File main.py:" in sent and "print('hello')" in sent

        # the conversation goes on with its history
        await pilot.press(*"sure?", "enter")
        await until(pilot, lambda: len(server.requests) == 2 and not panel.answering)
        history = server.requests[1].body["messages"]
        assert [m["role"] for m in history] == ["user", "assistant", "user"]
        assert history[1]["content"] == "It prints **hello** when run."


async def test_escape_cancels_a_slow_answer(workspace: Path, server: ModelServer) -> None:
    configure(workspace, server)
    server.then(Behaviour(text="Once upon a time, there was silence", stall_mid_stream=30))
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        await pilot.press(*"tell me a story", "enter")
        await until(pilot, lambda: answers(panel) == ["Once"])
        started = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: panel.last is not None, timeout=5)
        assert time.monotonic() - started < 3
        assert panel.last is not None and panel.last.cancelled
        assert lines(panel, "chat-meta") == ["answer cancelled"]
        assert answers(panel) == ["Once"]
        assert panel.history == []  # a cancelled exchange is not part of the conversation


async def test_a_missing_mention_is_shown_and_nothing_is_sent(
    workspace: Path, server: ModelServer
) -> None:
    configure(workspace, server)
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        await pilot.press(*"explain @nope.py", "enter")
        await until(pilot, lambda: bool(lines(panel, "chat-error")))
        assert "@nope.py: no such file in the workspace" in lines(panel, "chat-error")[0]
        assert server.requests == []


async def test_the_picker_chooses_among_several_models(
    workspace: Path, server: ModelServer
) -> None:
    configure(workspace, server, "alpha", "beta", default="beta")
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        select = panel.query_one("#chat-model", Select)
        assert select.display and select.value == "beta"
        select.value = "alpha"
        panel.focus()
        await pilot.press(*"hi", "enter")
        await until(pilot, lambda: panel.last is not None)
        assert server.requests[0].body["model"] == "alpha-m"
        assert panel.last is not None and panel.last.model == "alpha"


async def test_without_a_model_the_panel_says_how_to_add_one(workspace: Path) -> None:
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        notice = str(panel.query_one("#chat-notice", Static).render())
        assert "No AI model is configured" in notice and "symphony models add" in notice
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        assert panel.request_id is None and not answers(panel)


async def test_pieces_that_pile_up_are_shown_once_in_order(
    workspace: Path, server: ModelServer
) -> None:
    """A busy UI drains several answer pieces at once; each block of the answer shows once."""
    configure(workspace, server)
    answer = "Intro words here.\n\nSecond paragraph.\n\n- one\n- two\n- three\n\nThe end."
    server.then(Behaviour(text=answer, chunk_delay=0.04, stall_mid_stream=1.0))
    app = SymphonyApp(workspace, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await open_chat(pilot, app)
        await pilot.press(*"list three things", "enter")
        await until(pilot, lambda: answers(panel) == ["Intro"])
        # The UI is busy (blocked) while the rest streams: the pieces pile up in the bridge and
        # reach the panel in one batch.
        time.sleep(2.5)
        await until(pilot, lambda: panel.last is not None)
        await pilot.pause(0.2)
        markdown = panel.query(Markdown).first(Markdown)
        assert markdown.source == answer
        blocks = [type(block).__name__ for block in markdown.children]
        assert blocks == [
            "MarkdownParagraph",
            "MarkdownParagraph",
            "MarkdownBulletList",
            "MarkdownParagraph",
        ]
        shown = [str(block.render()) for block in markdown.query("MarkdownParagraph")]
        assert shown[0] == "Intro words here." and shown[-1] == "The end."
