"""Atomic file replacement: parents, modes, symlinks, no temporary files left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.files import write_atomic as exported
from engine.files.atomic import NEW_FILE_MODE, write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_exported_from_package() -> None:
    assert exported is write_atomic


def test_new_file_content_and_mode(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        write_atomic(tmp_path / "new.txt", b"hello\n")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.txt").read_bytes() == b"hello\n"
    assert NEW_FILE_MODE == 0o644
    assert mode(tmp_path / "new.txt") == 0o644
    assert leftovers(tmp_path) == []


def test_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "f.bin"
    write_atomic(target, b"\x00\x01\x02")
    assert target.read_bytes() == b"\x00\x01\x02"
    assert leftovers(target.parent) == []


def test_missing_parent_without_make_dirs(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "f.txt"
    with pytest.raises(FileNotFoundError):
        write_atomic(target, b"x", make_dirs=False)
    assert not target.parent.exists()


def test_overwrite_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"a much longer original content\n")
    write_atomic(target, b"short")
    assert target.read_bytes() == b"short"
    write_atomic(target, b"")
    assert target.read_bytes() == b""
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("file_mode", [0o755, 0o600, 0o444])
def test_overwrite_keeps_mode(tmp_path: Path, file_mode: int) -> None:
    target = tmp_path / "script.sh"
    target.write_bytes(b"#!/bin/sh\necho old\n")
    target.chmod(file_mode)
    write_atomic(target, b"#!/bin/sh\necho new\n")
    assert mode(target) == file_mode
    assert target.read_bytes() == b"#!/bin/sh\necho new\n"


def test_overwrite_replaces_the_inode(tmp_path: Path) -> None:
    # A reader holding the old file keeps seeing the old content: it was renamed over, not
    # rewritten in place.
    target = tmp_path / "f.txt"
    target.write_bytes(b"old")
    with target.open("rb") as reader:
        write_atomic(target, b"new")
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


def test_write_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "config.toml"
    real.parent.mkdir()
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink()
    assert link.readlink() == real
    assert real.read_bytes() == b"new"
    assert mode(real) == 0o600
    assert leftovers(tmp_path) == []
    assert leftovers(real.parent) == []


def test_write_through_relative_symlink(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    real = tmp_path / "dir" / "target.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(Path("dir") / "target.txt")
    write_atomic(link, b"new")
    assert link.is_symlink()
    assert link.readlink() == Path("dir") / "target.txt"
    assert real.read_bytes() == b"new"


def test_write_through_dangling_symlink_creates_target(tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "sub" / "later.txt")
    write_atomic(link, b"created")
    assert link.is_symlink()
    assert (tmp_path / "sub" / "later.txt").read_bytes() == b"created"
    assert mode(tmp_path / "sub" / "later.txt") == 0o644


def test_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    # Running as root, a read-only folder would not stop us; a directory at the target makes
    # the final rename fail instead.
    target = tmp_path / "target"
    target.mkdir()
    (target / "inside.txt").write_bytes(b"keep")
    with pytest.raises(OSError):
        write_atomic(target, b"data")
    assert target.is_dir()
    assert (target / "inside.txt").read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    assert sorted(p.name for p in target.iterdir()) == ["inside.txt"]


def test_failure_keeps_original_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"original")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        write_atomic(target, b"replacement")
    monkeypatch.undo()
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_many_writes_leave_one_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    for i in range(20):
        write_atomic(target, f"version {i}".encode())
    assert target.read_bytes() == b"version 19"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
