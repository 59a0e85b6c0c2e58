"""The built-in file operator, and the permission guard seen from an extension's side.

``symphony.fs`` is granted the whole workspace, so the denials are shown with a small
third-party-style extension written here (granted ``src/**`` for reading, nothing else) and
loaded from its folder exactly like one a user installs.
"""

from __future__ import annotations

import base64
import hashlib
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extensions.discovery import builtin_root
from engine.types.errors import ExtensionError, PermissionDenied
from symphony_sdk.testing import ExtensionHarness


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def h(ws: Path) -> Iterator[ExtensionHarness]:
    with ExtensionHarness(builtin_root() / "fs", ws, environ={}) as harness:
        yield harness


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- fs.read / fs.write --------------------------------------------------------------------------


def test_write_then_read_round_trip(ws: Path, h: ExtensionHarness) -> None:
    text = "héllo\nwörld\n"
    out = h.call("fs.write", path="notes/today.md", content=text)
    data = text.encode()
    assert out == {
        "path": "notes/today.md",
        "size": len(data),
        "sha256": sha(data),
        "created": True,
    }
    assert (ws / "notes" / "today.md").read_bytes() == data
    assert h.call("fs.read", path="notes/today.md") == {
        "content": text,
        "size": len(data),
        "sha256": sha(data),
    }
    assert h.call("fs.write", path="notes/today.md", content="again")["created"] is False
    assert (ws / "notes" / "today.md").read_text() == "again"


def test_base64_carries_binary_content(ws: Path, h: ExtensionHarness) -> None:
    data = bytes(range(256))
    encoded = base64.b64encode(data).decode()
    out = h.call("fs.write", path="blob.bin", content=encoded, encoding="base64")
    assert (out["size"], out["sha256"]) == (256, sha(data))
    assert (ws / "blob.bin").read_bytes() == data
    assert h.call("fs.read", path="blob.bin", encoding="base64")["content"] == encoded
    with pytest.raises(ExtensionError, match="not valid base64"):
        h.call("fs.write", path="x.bin", content="not base64!", encoding="base64")


def test_binary_file_read_as_text_points_at_base64(ws: Path, h: ExtensionHarness) -> None:
    (ws / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ExtensionError, match=r"not utf-8 text.*base64"):
        h.call("fs.read", path="latin.txt")
    assert h.call("fs.read", path="latin.txt", encoding="latin-1")["content"] == "café"
    with pytest.raises(ExtensionError, match="unknown text encoding 'hex'"):
        h.call("fs.read", path="latin.txt", encoding="hex")


def test_overwrite_keeps_the_files_mode(ws: Path, h: ExtensionHarness) -> None:
    script = ws / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    h.call("fs.write", path="run.sh", content="#!/bin/sh\necho new\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text().endswith("echo new\n")
    h.call("fs.write", path="fresh.txt", content="")
    assert stat.S_IMODE((ws / "fresh.txt").stat().st_mode) == 0o644


def test_if_absent_refuses_to_replace(ws: Path, h: ExtensionHarness) -> None:
    assert h.call("fs.write", path="once.txt", content="first", if_absent=True)["created"]
    with pytest.raises(ExtensionError, match=r"'once\.txt' already exists"):
        h.call("fs.write", path="once.txt", content="second", if_absent=True)
    assert (ws / "once.txt").read_text() == "first"


def test_make_dirs_false_needs_the_folder(ws: Path, h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="its folder does not exist"):
        h.call("fs.write", path="no/such/dir.txt", content="x", make_dirs=False)
    assert not (ws / "no").exists()


def test_max_bytes_refuses_large_files_naming_the_size(ws: Path, h: ExtensionHarness) -> None:
    (ws / "big.txt").write_text("x" * 100)
    with pytest.raises(ExtensionError, match=r"'big.txt' is 100 bytes, more than max_bytes \(10\)"):
        h.call("fs.read", path="big.txt", max_bytes=10)
    assert h.call("fs.read", path="big.txt", max_bytes=100)["size"] == 100


def test_reading_a_missing_file_or_a_folder_fails(ws: Path, h: ExtensionHarness) -> None:
    (ws / "dir").mkdir()
    with pytest.raises(ExtensionError, match=r"cannot read 'nope\.txt': it is missing"):
        h.call("fs.read", path="nope.txt")
    with pytest.raises(ExtensionError, match="cannot read 'dir': it is a folder"):
        h.call("fs.read", path="dir")


def test_the_whole_workspace_grant_still_stops_at_its_edge(
    tmp_path: Path, ws: Path, h: ExtensionHarness
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    with pytest.raises(PermissionDenied, match="outside the workspace"):
        h.call("fs.read", path="../outside.txt")
    with pytest.raises(PermissionDenied):
        h.call("fs.write", path=str(tmp_path / "elsewhere.txt"), content="x")
    assert not (tmp_path / "elsewhere.txt").exists()


# --- fs.glob -------------------------------------------------------------------------------------


@pytest.fixture
def tree(ws: Path) -> Path:
    for rel in ("a.py", "README.md", "src/b.py", "src/deep/c.py", "build/out.py", ".git/hook.py"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(rel)
    (ws / ".gitignore").write_text("build/\n")
    return ws


def test_glob_finds_files_sorted_and_respects_gitignore(tree: Path, h: ExtensionHarness) -> None:
    out = h.call("fs.glob", pattern="**/*.py")
    assert out == {"paths": ["a.py", "src/b.py", "src/deep/c.py"], "count": 3, "truncated": False}
    everything = h.call("fs.glob", pattern="**/*.py", include_ignored=True)["paths"]
    assert everything == ["a.py", "build/out.py", "src/b.py", "src/deep/c.py"]
    assert h.call("fs.glob", pattern="*.py")["paths"] == ["a.py"]
    assert h.call("fs.glob", pattern="src/**")["paths"] == ["src/b.py", "src/deep/c.py"]


def test_glob_limit_truncates(tree: Path, h: ExtensionHarness) -> None:
    assert h.call("fs.glob", pattern="**/*.py", limit=2) == {
        "paths": ["a.py", "src/b.py"],
        "count": 2,
        "truncated": True,
    }
    with pytest.raises(ExtensionError, match="limit must be at least 1"):
        h.call("fs.glob", pattern="**", limit=0)


# --- permission denials, seen by a third-party extension -----------------------------------------

PROBE_MANIFEST = """\
[extension]
id = "test.probe"
name = "Probe"
version = "0.1.0"
type = "operator"
entry = "{module}:Probe"

[permissions]
fs = {{ read = ["src/**"] }}

[[contributes.steps]]
type = "probe.read"
inputs = {{ path = {{ type = "string", required = true }} }}
outputs = {{ content = {{ type = "string" }} }}

[[contributes.steps]]
type = "probe.write"
inputs = {{ path = {{ type = "string", required = true }} }}

[[contributes.steps]]
type = "probe.run"
inputs = {{ argv = {{ type = "array", items = "string", required = true }} }}
outputs = {{ stdout = {{ type = "string" }} }}

[[contributes.steps]]
type = "probe.glob"
outputs = {{ paths = {{ type = "array", items = "string" }} }}
"""

PROBE_CODE = """\
from symphony_sdk import Operator, step


class Probe(Operator):
    @step("probe.read")
    def read(self, ctx, inputs):
        return {"content": ctx.fs.read_text(inputs["path"])}

    @step("probe.write")
    def write(self, ctx, inputs):
        ctx.fs.write_text(inputs["path"], "overwritten")
        return {}

    @step("probe.run")
    def run(self, ctx, inputs):
        return {"stdout": ctx.run(inputs["argv"]).stdout}

    @step("probe.glob")
    def glob(self, ctx, inputs):
        return {"paths": ctx.fs.glob("**")}
"""


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A module name of its own: the extension is imported into this process, once.
    module = f"probe_ext_{uuid.uuid4().hex[:12]}"
    folder = tmp_path_factory.mktemp("probe")
    (folder / "symphony-extension.toml").write_text(PROBE_MANIFEST.format(module=module))
    (folder / f"{module}.py").write_text(PROBE_CODE)
    return folder


@pytest.fixture
def probe(tmp_path: Path, ws: Path, probe_dir: Path) -> Iterator[ExtensionHarness]:
    (ws / "src").mkdir()
    (ws / "src" / "a.txt").write_text("allowed")
    (ws / "secret.txt").write_text("root secret")
    (tmp_path / "outside.txt").write_text("outside secret")
    (ws / "src" / "link.txt").symlink_to(tmp_path / "outside.txt")
    with ExtensionHarness(probe_dir, ws, environ={}) as harness:
        assert harness.status.source == "folder"
        yield harness


def test_granted_paths_are_readable_and_audited(probe: ExtensionHarness) -> None:
    assert probe.call("probe.read", path="src/a.txt") == {"content": "allowed"}
    assert [(r.permission, r.target, r.decision) for r in probe.audit()] == [
        ("fs.read", "src/a.txt", "allowed")
    ]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("secret.txt", "granted: src/**"),
        ("../outside.txt", "outside the workspace"),
        ("src/link.txt", "outside the workspace"),
    ],
)
def test_reads_outside_the_grant_are_denied_and_audited(
    probe: ExtensionHarness, path: str, reason: str
) -> None:
    with pytest.raises(PermissionDenied) as denied:
        probe.call("probe.read", path=path)
    assert (denied.value.extension, denied.value.permission, denied.value.target) == (
        "test.probe",
        "fs.read",
        path,
    )
    message = str(denied.value)
    assert "'test.probe'" in message and "fs.read" in message and repr(path) in message
    assert reason in message
    [record] = probe.audit(denied_only=True)
    assert (record.permission, record.target, record.decision) == ("fs.read", path, "denied")
    assert reason in record.detail


def test_writing_without_a_write_grant_is_denied(ws: Path, probe: ExtensionHarness) -> None:
    with pytest.raises(PermissionDenied, match=r"fs\.write on 'src/a\.txt' \(nothing granted\)"):
        probe.call("probe.write", path="src/a.txt")
    assert (ws / "src" / "a.txt").read_text() == "allowed"


def test_starting_a_process_without_a_grant_is_refused(ws: Path, probe: ExtensionHarness) -> None:
    marker = ws / "src" / "ran"
    with pytest.raises(PermissionDenied) as denied:
        probe.call("probe.run", argv=["touch", str(marker)])
    assert denied.value.permission == "process"
    assert not marker.exists()
    [record] = probe.audit(denied_only=True)
    assert record.permission == "process"
    assert record.target.startswith("touch ")


def test_glob_lists_only_granted_files(probe: ExtensionHarness) -> None:
    paths = probe.call("probe.glob")["paths"]
    assert "secret.txt" not in paths
    assert "src/a.txt" in paths
