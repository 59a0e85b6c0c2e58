"""Fixtures of the installer tests: a workspace, and a real HTTP server on 127.0.0.1 serving a
folder (GET) and storing uploads (PUT), as a marketplace host does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class IndexServer:
    """The running server: ``url`` of its root, the ``folder`` it serves, the requests seen."""

    url: str
    folder: Path
    requests: list[str]


def _handler(folder: Path, requests: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _path(self) -> Path | None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            target = (folder / rel).resolve()
            return target if target.is_relative_to(folder.resolve()) else None

        def do_GET(self) -> None:
            requests.append(f"GET {self.path}")
            target = self._path()
            if target is None or not target.is_file():
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            data = target.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            requests.append(f"PUT {self.path}")
            target = self._path()
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            if target is None:
                self.send_error(HTTPStatus.FORBIDDEN)
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.send_response(HTTPStatus.CREATED)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def index_server(tmp_path: Path) -> Iterator[IndexServer]:
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder, requests))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="index-server", daemon=True)
    thread.start()
    try:
        yield IndexServer(f"http://127.0.0.1:{server.server_address[1]}", folder, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """The workspace the commands run in."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n", encoding="utf-8")
    return folder
