"""The extension detail, marketplace and install commands against a real Engine: a real
marketplace index with packed archives, the real installer, the extension loaded (in its own
host process) and called afterwards."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.extensions.host import sandbox_problem
from engine.extensions.lifecycle import State
from engine.extensions.messages import (
    CancelInstall,
    ExtensionDetail,
    ExtensionList,
    ExtensionStateChanged,
    GetExtensionDetail,
    InstallDone,
    InstallExtension,
    InstallProgress,
    InstallReview,
    ListExtensions,
    MarketplaceListing,
    ReviewInstall,
    RunStep,
    SearchMarketplace,
    StepDone,
)
from engine.runtime import Engine
from engine.types.errors import RemoteError
from engine.types.messages import Ack, command_topic
from tests.installer.support import publish_ext, snapshot, user_dir, write_ext


def market(ws: Path, *exts: tuple[str, str, str]) -> Path:
    """Publish ``(id, version, permissions)`` extensions to ``ws/market/index.json`` and point
    the workspace's configuration at it (relative to the workspace)."""
    folder = ws / "market"
    folder.mkdir(exist_ok=True)
    index = folder / "index.json"
    for ext_id, version, permissions in exts:
        src = write_ext(ws.parent / "src", ext_id, version, permissions=permissions)
        publish_ext(src, str(index), folder)
    config = ws / ".symphony" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text('[extensions]\nmarketplace = "market/index.json"\n')
    return index


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    return folder


@pytest.fixture
def events() -> queue.Queue[object]:
    return queue.Queue()


def drain(q: queue.Queue[object]) -> list[object]:
    seen = []
    while not q.empty():
        seen.append(q.get_nowait())
    return seen


def test_detail_of_a_builtin_has_status_review_and_empty_metrics(ws: Path) -> None:
    with Engine(ws, watch_config=False) as engine:
        detail = engine.send(GetExtensionDetail(id="symphony.fs"))
        assert isinstance(detail, ExtensionDetail)
        assert detail.status.id == "symphony.fs" and detail.status.source == "builtin"
        assert not detail.sandboxed and detail.sandbox_note == "runs in Symphony's process"
        assert any(line.startswith("files read:") for line in detail.review)
        assert (detail.metrics.calls, detail.metrics.p50_ms) == (0, None)
        with pytest.raises(RemoteError, match=r"no extension 'symphony\.nope'"):
            engine.send(GetExtensionDetail(id="symphony.nope"))


def test_search_lists_the_configured_index_and_filters(ws: Path) -> None:
    market(
        ws,
        ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'),
        ("acme.wc", "1.2.0", 'fs = { read = ["*.txt"] }'),
        ("acme.lint", "0.3.0", 'network = ["example.com"]'),
    )
    with Engine(ws, watch_config=False) as engine:
        listing = engine.send(SearchMarketplace())
        assert isinstance(listing, MarketplaceListing)
        assert listing.index == str(ws / "market" / "index.json")
        by_id = {e.id: e for e in listing.entries}
        assert set(by_id) == {"acme.wc", "acme.lint"}
        assert by_id["acme.wc"].latest == "1.2.0"
        assert by_id["acme.wc"].versions == ("1.0.0", "1.2.0")
        assert by_id["acme.wc"].installed is None
        assert by_id["acme.lint"].permissions == {"network": ["example.com"]}
        only = engine.send(SearchMarketplace(query="LINT"))
        assert isinstance(only, MarketplaceListing)
        assert [e.id for e in only.entries] == ["acme.lint"]


def test_search_without_an_index_says_how_to_configure_one(ws: Path) -> None:
    with (
        Engine(ws, watch_config=False) as engine,
        pytest.raises(RemoteError, match=r"set extensions\.marketplace"),
    ):
        engine.send(SearchMarketplace())


def test_review_installs_nothing_and_is_stable(ws: Path) -> None:
    market(ws, ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'))
    with Engine(ws, watch_config=False) as engine:
        before = snapshot()  # the built-ins are pinned at start-up
        review = engine.send(ReviewInstall(ref="acme.wc"))
        again = engine.send(ReviewInstall(ref="acme.wc"))
    assert isinstance(review, InstallReview) and isinstance(again, InstallReview)
    assert review.review_hash == again.review_hash
    assert review.needs_confirmation
    (ext,) = review.extensions
    assert (ext.id, ext.version, ext.action, ext.previous) == ("acme.wc", "1.0.0", "install", None)
    assert ext.heading.startswith("Install acme.wc 1.0.0 (operator, new) from index ")
    assert ext.grants["fs.read"] == ["*.txt"] and ext.grants["runtime"] == ["in its own process"]
    assert any("files read:" in line and "*.txt" in line for line in ext.lines)
    assert ext.sha256 is not None and len(ext.sha256) == 64
    assert snapshot() == before  # nothing on disk, nothing in the registry


def test_install_with_another_review_hash_installs_nothing(ws: Path) -> None:
    market(ws, ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'))
    with Engine(ws, watch_config=False) as engine:
        before = snapshot()
        with pytest.raises(RemoteError, match="differs from the review you accepted"):
            engine.send(InstallExtension(ref="acme.wc", review_hash="0" * 64))
        listed = engine.send(ListExtensions())
    assert isinstance(listed, ExtensionList)
    assert "acme.wc" not in {s.id for s in listed.extensions}
    assert snapshot() == before


def test_install_reports_progress_loads_the_extension_and_it_runs(
    ws: Path, events: queue.Queue[object]
) -> None:
    market(ws, ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'))
    with Engine(ws, watch_config=False) as engine:
        engine.subscribe(lambda env: events.put(env.payload), "evt.*")
        review = engine.send(ReviewInstall(ref="acme.wc"))
        assert isinstance(review, InstallReview)
        done = engine.send(
            InstallExtension(ref="acme.wc", review_hash=review.review_hash, operation="op-1"),
            timeout=60,
        )
        assert isinstance(done, InstallDone)
        (status,) = done.installed
        assert (status.id, status.version, status.state) == ("acme.wc", "1.0.0", State.LOADED)
        assert status.enabled and status.isolation == "process"
        assert (user_dir() / "acme.wc" / "symphony-extension.toml").is_file()
        ran = engine.send(RunStep(step_type="wc.echo", inputs={"text": "hi"}), timeout=60)
        assert isinstance(ran, StepDone) and ran.outputs == {"text": "acme.wc 1.0.0: hi"}
        detail = engine.send(GetExtensionDetail(id="acme.wc"))
        assert isinstance(detail, ExtensionDetail)
        assert detail.metrics.calls == 1 and detail.metrics.errors == 0
        assert detail.metrics.p50_ms is not None and detail.metrics.p50_ms > 0
        assert detail.sandboxed is (sandbox_problem() is None)
        listing = engine.send(SearchMarketplace())
        assert isinstance(listing, MarketplaceListing)
        assert listing.entries[0].installed == "1.0.0"
    seen = drain(events)
    progress = [e for e in seen if isinstance(e, InstallProgress)]
    assert {p.operation for p in progress} == {"op-1"}
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(f for f in fractions if f is not None) and fractions[-1] == 1.0
    assert progress[-1].done and not progress[-1].error
    assert [p.done for p in progress].count(True) == 1
    states = [e.state for e in seen if isinstance(e, ExtensionStateChanged) and e.id == "acme.wc"]
    assert states[:2] == [State.INSTALLED, State.LOADED]


def test_update_review_shows_only_the_widened_permissions_and_replaces_the_loaded_one(
    ws: Path,
) -> None:
    index = market(ws, ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'))
    with Engine(ws, watch_config=False) as engine:
        first = engine.send(ReviewInstall(ref="acme.wc"))
        assert isinstance(first, InstallReview)
        engine.send(InstallExtension(ref="acme.wc", review_hash=first.review_hash), timeout=60)
        newer = write_ext(
            ws.parent / "src2", "acme.wc", "1.1.0", permissions='fs = { read = ["*.txt", "*.md"] }'
        )
        publish_ext(newer, str(index), index.parent)
        review = engine.send(ReviewInstall(ref="acme.wc@1.1.0"))
        assert isinstance(review, InstallReview)
        (ext,) = review.extensions
        assert (ext.action, ext.previous, ext.version) == ("update", "1.0.0", "1.1.0")
        assert ext.widened == {"fs.read": ["*.md"]}
        assert ext.lines == ("+ files read:    *.md",)
        done = engine.send(
            InstallExtension(ref="acme.wc@1.1.0", review_hash=review.review_hash), timeout=60
        )
        assert isinstance(done, InstallDone)
        assert done.installed[0].version == "1.1.0"
        ran = engine.send(RunStep(step_type="wc.echo", inputs={"text": "x"}), timeout=60)
        assert isinstance(ran, StepDone) and ran.outputs == {"text": "acme.wc 1.1.0: x"}


class _GatedServer:
    """A real HTTP server for a folder whose archive downloads after the first wait until
    ``release`` is set (so a test can cancel an install while it downloads)."""

    def __init__(self, folder: Path) -> None:
        self.release = threading.Event()
        self.waiting = threading.Event()
        gets: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                if name.endswith(".tar.gz"):
                    gets.append(name)
                    if len(gets) > 1:
                        outer.waiting.set()
                        outer.release.wait(30)
                target = folder / name
                if not target.is_file():
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                data = target.read_bytes()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated(ws: Path) -> Iterator[_GatedServer]:
    market(ws, ("acme.wc", "1.0.0", 'fs = { read = ["*.txt"] }'))
    server = _GatedServer(ws / "market")
    (ws / ".symphony" / "config.toml").write_text(
        f'[extensions]\nmarketplace = "{server.url}/index.json"\n'
    )
    try:
        yield server
    finally:
        server.close()


def test_cancel_while_downloading_installs_nothing(
    ws: Path, gated: _GatedServer, events: queue.Queue[object]
) -> None:
    with Engine(ws, watch_config=False) as engine:
        before = snapshot()
        engine.subscribe(lambda env: events.put(env.payload), "evt.InstallProgress")
        review = engine.send(ReviewInstall(ref="acme.wc"))
        assert isinstance(review, InstallReview)
        command = InstallExtension(ref="acme.wc", review_hash=review.review_hash, operation="op")
        pending = engine.bus.request_async(command_topic(command), command, timeout=60)
        assert gated.waiting.wait(10), "the install never started downloading"
        ack = engine.send(CancelInstall(operation="op"))
        assert isinstance(ack, Ack) and ack.detail == "cancelling"
        gated.release.set()
        with pytest.raises(RemoteError, match="cancelled; nothing installed") as caught:
            pending.result(30)
        assert caught.value.remote_code == "cancelled"
        listed = engine.send(ListExtensions())
        assert isinstance(listed, ExtensionList)
        assert "acme.wc" not in {s.id for s in listed.extensions}
        unknown = engine.send(CancelInstall(operation="op"))
        assert isinstance(unknown, Ack) and "no install" in unknown.detail
    assert snapshot() == before
    last = [e for e in drain(events) if isinstance(e, InstallProgress)][-1]
    assert last.done and "cancelled" in last.error
