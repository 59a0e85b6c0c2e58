"""Snapshots of the chat panel in the real SymphonyApp: after an answer (streamed from a real
chat-completions server on 127.0.0.1, with its tokens and cost), and with no model configured.

The panel is made as tall as it goes, so only the top of the welcome tab (whose list of keys
changes as features come) shows above it; toasts are cleared and the cursor does not blink
(``conftest.py``). Update baselines only after looking at the rendered SVGs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from textual.widgets import Input

from symphony_tui.app import SymphonyApp
from symphony_tui.views.chat import ChatPanel
from symphony_tui.widgets.status_bar import StatusBar
from tests.support.model_server import Behaviour, ModelServer
from tests.tui.helpers import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from textual.pilot import Pilot

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])

ANSWER = (
    "`add` returns the sum of its two arguments:\n\n"
    "- `add(2, 3)` is `5`\n- it works for any objects that support `+`\n"
)


def workspace(root: Path, server: ModelServer | None) -> Path:
    ws = root / "demo"
    (ws / ".symphony").mkdir(parents=True)
    (ws / "app.py").write_text("def add(a, b):\n    return a + b\n")
    if server is not None:
        (ws / ".symphony" / "config.toml").write_text(
            f'[aide.models.local]\nbase_url = "{server.base_url}"\nmodel = "m1"\n'
            "input_price = 0.15\noutput_price = 0.6\n"
        )
    return ws


async def open_chat(pilot: Pilot[Any]) -> ChatPanel:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    await pilot.press("f12")
    panel = app.screen.query_one(ChatPanel)
    await wait_for(pilot, lambda: panel.models is not None and isinstance(app.focused, Input))
    await pilot.press(*["ctrl+shift+up"] * 15)
    return panel


async def settle(pilot: Pilot[Any]) -> None:
    pilot.app.clear_notifications()
    await pilot.pause(0.3)


@SIZES
def test_chat_after_an_answer(
    snap_compare: Any, tmp_path: Path, server: ModelServer, size: tuple[int, int]
) -> None:
    server.then(Behaviour(text=ANSWER, usage=(412, 38)))
    app = SymphonyApp(workspace(tmp_path, server), watch_config=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        panel = await open_chat(pilot)
        await pilot.press(*"what does add in @app.py do?", "enter")
        await wait_for(pilot, lambda: panel.last is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_chat_without_a_model(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = SymphonyApp(workspace(tmp_path, None), watch_config=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_chat(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
