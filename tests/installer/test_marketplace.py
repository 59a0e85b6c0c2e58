"""The marketplace index format (strict, with JSON paths in errors) and reading it from files
and a real HTTP server: status codes, timeouts and size caps reported clearly."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from engine.extensions.marketplace import load_index, parse_index
from engine.extensions.transfer import join, put_bytes, read_bytes
from engine.types.errors import MarketplaceError, TransferError
from tests.installer.conftest import IndexServer

SHA = "a" * 64


def index(**version: object) -> bytes:
    entry = {"version": "1.0.0", "url": "x.tar.gz", "sha256": SHA, **version}
    return json.dumps(
        {
            "format": 1,
            "extensions": [{"id": "acme.x", "name": "X", "type": "operator", "versions": [entry]}],
        }
    ).encode()


@pytest.mark.parametrize(
    ("data", "location", "reason"),
    [
        (b"{", None, "not valid JSON: Expecting property name enclosed in double quotes"),
        (b'{"extensions": []}', "$.format", "required key is missing"),
        (b'{"format": 2, "extensions": []}', "$.format", "Input should be 1"),
        (index(sha256="abc"), "$.extensions[0].versions[0].sha256", "String should match"),
        (index(version="1.0"), "$.extensions[0].versions[0].version", "String should match"),
        (index(mirror="y"), "$.extensions[0].versions[0].mirror", "unknown key"),
        (
            index(requires={"acme.base": "=>1"}),
            "$.extensions[0].versions[0].requires",
            "'acme.base': '=>1' is not a version comparison",
        ),
        (
            index(permissions={"fs": {"read": ["/etc/**"]}}),
            "$.extensions[0].versions[0].permissions.fs.read",
            "",
        ),
        (index(symphony="soon"), "$.extensions[0].versions[0].symphony", "not a version specifier"),
    ],
)
def test_malformed_indexes_name_the_source_and_json_path(
    data: bytes, location: str | None, reason: str
) -> None:
    with pytest.raises(MarketplaceError) as caught:
        parse_index(data, "market/index.json")
    error = caught.value
    assert (error.source, error.location) == ("market/index.json", location)
    assert reason in error.reason
    assert error.exit_code == 2


def test_duplicates_are_refused() -> None:
    raw = json.loads(index())
    raw["extensions"][0]["versions"] *= 2
    with pytest.raises(
        MarketplaceError, match=r"\$.extensions\[0\].versions: .*1.0.0 is listed twice"
    ):
        parse_index(json.dumps(raw).encode(), "i.json")
    raw = json.loads(index())
    raw["extensions"] *= 2
    with pytest.raises(MarketplaceError, match=r"'acme.x' is listed twice"):
        parse_index(json.dumps(raw).encode(), "i.json")


def test_reading_over_http_and_relative_urls(index_server: IndexServer) -> None:
    (index_server.folder / "index.json").write_bytes(index())
    url = f"{index_server.url}/index.json"
    loaded = load_index(url)
    assert loaded.extensions[0].latest().version == "1.0.0"
    assert join(url, "x.tar.gz") == f"{index_server.url}/x.tar.gz"
    assert join("/srv/market/index.json", "dl/x.tar.gz") == "/srv/market/dl/x.tar.gz"
    assert join(url, "https://cdn.example/x.tar.gz") == "https://cdn.example/x.tar.gz"
    with pytest.raises(TransferError, match=r"/missing.json: HTTP 404") as caught:
        read_bytes(f"{index_server.url}/missing.json", max_bytes=1000)
    assert caught.value.missing
    with pytest.raises(TransferError, match=r"larger than 10 bytes"):
        read_bytes(url, max_bytes=10)
    put_bytes(f"{index_server.url}/up/new.json", b"{}")
    assert (index_server.folder / "up" / "new.json").read_bytes() == b"{}"


def test_a_server_that_never_answers_times_out_with_a_clear_message() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/index.json"
    try:
        with pytest.raises(TransferError, match=r"index.json: no answer within 0.3 s"):
            read_bytes(url, max_bytes=1000, timeout=0.3)
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
    # The listener is closed now: nothing listens on that port.
    with pytest.raises(TransferError, match=r"index.json: Connection refused"):
        read_bytes(url, max_bytes=10, timeout=2)


def test_missing_local_files(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="no such file") as caught:
        load_index(str(tmp_path / "nope.json"))
    assert caught.value.missing
