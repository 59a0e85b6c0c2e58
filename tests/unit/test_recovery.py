"""The crash-recovery area: buffers, layout, damaged files and changes on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.files.recovery import RecoveryStore, file_sha256, recovery_dir


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("one\n")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "b.md").write_text("two\n")
    return workspace


@pytest.fixture
def store(ws: Path, tmp_path: Path) -> RecoveryStore:
    return RecoveryStore(ws, recovery_dir(tmp_path / "data", ws))


def test_recovery_dir_is_per_workspace(tmp_path: Path) -> None:
    a = recovery_dir(tmp_path, Path("/x/one"))
    b = recovery_dir(tmp_path, Path("/x/two"))
    assert a != b
    assert a.parent == tmp_path / "recovery"
    assert a.name == hashlib.sha256(b"/x/one").hexdigest()[:16]


def test_empty_area(store: RecoveryStore) -> None:
    assert store.entries() == []
    assert store.entries().problems == []
    assert store.load_layout() is None
    store.discard("nothing")  # no error


def test_save_entries_discard(ws: Path, store: RecoveryStore) -> None:
    store.save("a.py", "one\nmore\n", base_sha256=file_sha256(ws / "a.py"))
    store.save("sub/b.md", "two ✓\n", base_sha256=file_sha256(ws / "sub" / "b.md"))
    store.save("a.py", "one\nmore again\n", base_sha256=file_sha256(ws / "a.py"))  # replaces
    entries = store.entries()
    assert [(e.path, e.text, e.disk_changed) for e in entries] == [
        ("a.py", "one\nmore again\n", False),
        ("sub/b.md", "two ✓\n", False),
    ]
    assert all(e.saved_at > 0 for e in entries)
    store.discard("a.py")
    assert [e.path for e in store.entries()] == ["sub/b.md"]
    store.discard_all()
    assert store.entries() == []


def test_disk_changed(ws: Path, store: RecoveryStore) -> None:
    store.save("a.py", "mine\n", base_sha256=file_sha256(ws / "a.py"))
    store.save("sub/b.md", "mine\n", base_sha256=file_sha256(ws / "sub" / "b.md"))
    store.save("new.txt", "never saved\n", base_sha256=None)
    (ws / "a.py").write_text("someone else\n")
    (ws / "sub" / "b.md").unlink()
    changed = {e.path: e.disk_changed for e in store.entries()}
    assert changed == {"a.py": True, "sub/b.md": True, "new.txt": False}


def test_layout_roundtrip(store: RecoveryStore) -> None:
    layout = {"editors": ["a.py"], "terminals": 2, "sidebar": False, "panel": True}
    store.save_layout(layout)
    assert store.load_layout() == layout
    assert store.entries() == []  # the layout is not a buffer


def test_damaged_files_are_skipped_and_reported(ws: Path, store: RecoveryStore) -> None:
    store.save("a.py", "kept\n", base_sha256=None)
    (store.root / "0000.buffer.json").write_text("{not json")
    (store.root / "0001.buffer.json").write_text(json.dumps({"version": 1, "path": "x"}))
    (store.root / "0002.buffer.json").write_text(json.dumps({"version": 99, "path": "x"}))
    (store.root / "0003.buffer.json").write_bytes(b"\xff\xfe")
    (store.root / "0004.buffer.json").mkdir()
    (store.root / "unrelated.txt").write_text("ignored")
    entries = store.entries()
    assert [e.path for e in entries] == ["a.py"]
    assert len(entries.problems) == 5
    (store.root / "layout.json").write_text("[broken")
    assert store.load_layout() is None
    (store.root / "layout.json").write_text(json.dumps({"version": 1, "layout": [1]}))
    assert store.load_layout() is None


def test_writes_are_atomic_and_leave_no_temporaries(store: RecoveryStore) -> None:
    store.save("a.py", "x" * 100_000, base_sha256=None)
    store.save_layout({"editors": []})
    names = sorted(p.name for p in store.root.iterdir())
    assert len(names) == 2
    assert "layout.json" in names
    assert not any(n.endswith(".tmp") for n in names)
