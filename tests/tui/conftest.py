"""Fixtures for Pilot tests: a small workspace with ignored files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "demo"
    ws.mkdir()
    (ws / "README.md").write_text("# Demo\n\nA small project.\n")
    (ws / "main.py").write_text("def main():\n    print('hello')\n")
    (ws / "src").mkdir()
    (ws / "src" / "util.py").write_text("X = 1\n")
    (ws / "build").mkdir()
    (ws / "build" / "out.bin").write_bytes(b"\0\1")
    (ws / "secret.log").write_text("noise\n")
    (ws / ".gitignore").write_text("build/\n*.log\n")
    return ws


@pytest.fixture
def plain_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A predictable interactive shell for terminal tests: dash, prompt ``$ ``, no start-up
    file. Modules opt in with ``pytestmark = pytest.mark.usefixtures("plain_shell")``."""
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.setenv("PS1", "$ ")
    monkeypatch.setenv("ENV", "")
