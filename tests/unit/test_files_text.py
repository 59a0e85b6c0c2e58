"""Decoding files for the editor and encoding them back, language detection, the file walk and
the explorer's file operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.files.ignore import IgnoreRules
from engine.files.languages import language_for
from engine.files.ops import (
    PathProblem,
    count_files,
    create_path,
    delete_path,
    rename_path,
    resolve_new_path,
)
from engine.files.text import decode_text, encode_text, looks_binary
from engine.files.walk import workspace_files


@pytest.mark.parametrize(
    "data",
    [
        b"a\nb\n",
        b"a\r\nb\r\n",
        b"no final newline",
        b"a\r\nb",
        "caf\u00e9\n".encode(),
        b"\xef\xbb\xbfbom\r\n",
        "caf\u00e9\n".encode("latin-1"),
        b"",
    ],
)
def test_decode_then_encode_round_trips(data: bytes) -> None:
    decoded = decode_text(data)
    assert "\r\n" not in decoded.text
    encoded, used = encode_text(decoded.text, encoding=decoded.encoding, newline=decoded.newline)
    assert encoded == data and used == decoded.encoding


def test_decode_detects_newline_and_encoding() -> None:
    crlf = decode_text(b"x\r\ny\r\n")
    assert crlf.text == "x\ny\n" and crlf.newline == "\r\n" and crlf.encoding == "utf-8"
    latin = decode_text(b"caf\xe9")
    assert latin.text == "café" and latin.lossy_guess
    assert decode_text(b"\xef\xbb\xbfx").encoding == "utf-8-sig"


def test_latin1_text_with_new_characters_is_saved_as_utf8() -> None:
    data, used = encode_text("€\n", encoding="latin-1", newline="\n")
    assert used == "utf-8" and data == "€\n".encode()


def test_binary_sniffing() -> None:
    assert looks_binary(b"ab\0cd")
    assert not looks_binary(b"plain text\n")
    assert not looks_binary(b"x" * 9000 + b"\0")  # only the start is checked


@pytest.mark.parametrize(
    ("name", "first_line", "language"),
    [
        ("a.py", "", "python"),
        ("a.json", "", "json"),
        ("pyproject.toml", "", "toml"),
        ("a.yml", "", "yaml"),
        ("README.md", "", "markdown"),
        ("a.js", "", "javascript"),
        ("a.ts", "", "typescript"),
        ("lib.rs", "", "rust"),
        ("main.go", "", "go"),
        ("run.sh", "", "bash"),
        (".bashrc", "", "bash"),
        ("tool", "#!/usr/bin/env python3", "python"),
        ("tool", "#!/bin/sh -e", "bash"),
        ("tool", "#!/usr/bin/env -S node --flag", "javascript"),
        ("notes.txt", "", None),
        ("tool", "#!/usr/bin/perl", None),
    ],
)
def test_language_for(name: str, first_line: str, language: str | None) -> None:
    assert language_for(Path(name), first_line) == language


def test_workspace_files_respects_gitignore_excludes_and_limit(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    (tmp_path / "a.py").write_text("")
    (tmp_path / "x.log").write_text("")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out").write_text("")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / ".gitignore").write_text("secret.txt\n")
    (tmp_path / "src" / "secret.txt").write_text("")
    (tmp_path / "src" / "deep" / "b.py").write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "m.js").write_text("")
    rules = IgnoreRules(tmp_path, exclude=["node_modules"])
    files, capped = workspace_files(rules)
    assert files == [".gitignore", "a.py", "src/.gitignore", "src/deep/b.py"]
    assert not capped
    assert workspace_files(rules, show_hidden=False)[0] == ["a.py", "src/deep/b.py"]
    limited, capped = workspace_files(rules, limit=2)
    assert len(limited) == 2 and capped


def test_resolve_new_path_checks_names(tmp_path: Path) -> None:
    (tmp_path / "exists.py").write_text("")
    assert resolve_new_path(tmp_path, tmp_path, "pkg/new.py") == tmp_path / "pkg" / "new.py"
    for bad in ("", "/etc/passwd", "../out.py", "a/../../b", "exists.py", "a\\b"):
        with pytest.raises(PathProblem):
            resolve_new_path(tmp_path, tmp_path, bad)


def test_create_rename_delete(tmp_path: Path) -> None:
    create_path(tmp_path / "pkg" / "a.py")
    assert (tmp_path / "pkg" / "a.py").read_bytes() == b""
    create_path(tmp_path / "folder", folder=True)
    assert (tmp_path / "folder").is_dir()
    rename_path(tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "b.py")
    assert (tmp_path / "pkg" / "b.py").exists() and not (tmp_path / "pkg" / "a.py").exists()
    (tmp_path / "other.py").write_text("keep")
    with pytest.raises(FileExistsError):
        rename_path(tmp_path / "pkg" / "b.py", tmp_path / "other.py")
    assert (tmp_path / "other.py").read_text() == "keep"
    assert count_files(tmp_path / "pkg") == 1
    delete_path(tmp_path / "pkg")
    delete_path(tmp_path / "other.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
