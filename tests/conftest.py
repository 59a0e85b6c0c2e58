"""Test-wide isolation: every test gets its own config, data and cache folders.

Symphony reads the user's configuration from the platform config dir and ``SYMPHONY_*``
variables; tests must never see (or write) the developer's real ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import ModelServer


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point XDG folders at a fresh temporary home and drop SYMPHONY_* variables."""
    home = tmp_path_factory.mktemp("home")
    for var in (
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "XDG_RUNTIME_DIR",
    ):
        folder = home / var.lower()
        folder.mkdir(mode=0o700)
        monkeypatch.setenv(var, str(folder))
    # The environment health check looks at TERM; CI has no terminal, tests pretend one.
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in list(os.environ):
        if name.startswith("SYMPHONY_"):
            monkeypatch.delenv(name)
    yield home


@pytest.fixture
def server() -> Iterator[ModelServer]:
    """A chat-completions server on 127.0.0.1 (``tests/support/model_server.py``); a module
    may define its own ``server`` (another model name, a responder)."""
    with ModelServer() as s:
        yield s
