"""Pictures must not depend on when they are taken.

A focused Input or TextArea blinks its cursor every 0.5 s from the last focus or key, so a
snapshot taken a little later under load would lose the cursor. Here the blink timer leaves the
cursor shown; everything else about the widgets is the real thing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Input, TextArea


def _keep_cursor_shown(widget: Input | TextArea) -> None:
    widget._cursor_visible = True


@pytest.fixture(autouse=True)
def steady_cursors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(Input, "_toggle_cursor", _keep_cursor_shown)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", _keep_cursor_shown)
    yield
