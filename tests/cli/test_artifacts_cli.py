"""``symphony artifacts …`` as a script would use it: real subprocesses, a real store on disk."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def symphony(
    *args: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "symphony_cli", *args],
        capture_output=True,
        cwd=cwd,
        input=stdin,
        env=dict(os.environ),
        timeout=60,
    )


def ok(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    result = symphony(*args, cwd=cwd, stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "log.txt").write_text("pytest collected 12 items; 11 passed, 1 failed in parser\n")
    (root / "fix.diff").write_text("--- a/parser.py\n+++ b/parser.py\n@@ fixed the parser\n")
    return root


def test_put_show_get_search_lineage_round_trip(ws: Path, tmp_path: Path) -> None:
    put = json.loads(
        ok("artifacts", "put", "log.txt", "--name", "test-log", "--tag", "ci", "--json", cwd=ws)
    )
    log_hash = put[0]["hash"]
    assert put[0]["names"] == ["test-log@1"]
    line = ok("artifacts", "put", "fix.diff", "--input", "test-log", cwd=ws)
    diff_hash = line.split()[0]

    shown = ok("artifacts", "show", log_hash[:8], cwd=ws)
    assert f"hash:       {log_hash}" in shown
    assert "names:      test-log@1" in shown and "tags:       ci" in shown
    assert f"output:     {diff_hash}" in shown

    out_file = tmp_path / "copy.txt"
    ok("artifacts", "get", "test-log", "-o", str(out_file), cwd=ws)
    assert out_file.read_bytes() == (ws / "log.txt").read_bytes()
    assert (
        symphony("artifacts", "get", "test-log@1", cwd=ws).stdout == (ws / "log.txt").read_bytes()
    )

    hits = json.loads(ok("artifacts", "search", "parser", "--json", cwd=ws))
    assert {h["hash"] for h in hits} == {log_hash, diff_hash}
    only_ci = json.loads(ok("artifacts", "search", "parser", "--tag", "ci", "--json", cwd=ws))
    assert [h["hash"] for h in only_ci] == [log_hash]
    assert "«parser»" in ok("artifacts", "search", "parser", "--tag", "ci", cwd=ws)

    lineage = json.loads(ok("artifacts", "lineage", diff_hash, "--up", "--json", cwd=ws))
    assert lineage["up"] == [{"parent": log_hash, "child": diff_hash, "depth": 1}]
    text = ok("artifacts", "lineage", "test-log", cwd=ws)
    assert f"-> {diff_hash}" in text


def test_stdin_put_and_name_versions(ws: Path) -> None:
    first = ok("artifacts", "put", "-", "--name", "notes", cwd=ws, stdin=b"one\n").split()[0]
    ok("artifacts", "put", "-", "--name", "notes", cwd=ws, stdin=b"one\n")  # same content: no v2
    second = ok("artifacts", "put", "-", "--name", "notes", cwd=ws, stdin=b"two\n").split()[0]
    versions = ok("artifacts", "show", "notes", "--versions", cwd=ws).splitlines()
    assert [v.split()[:2] for v in versions] == [["notes@1", first], ["notes@2", second]]


def test_verify_reports_a_flipped_byte_and_exits_1(ws: Path) -> None:
    digest = ok("artifacts", "put", "log.txt", cwd=ws).split()[0]
    assert ok("artifacts", "verify", cwd=ws) == ""
    blob = ws / ".symphony" / "artifacts" / "blobs" / digest[:2] / digest[2:4] / digest
    data = bytearray(blob.read_bytes())
    data[3] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    result = symphony("artifacts", "verify", "--json", cwd=ws)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [p["hash"] for p in report["problems"]] == [digest]
    assert report["problems"][0]["problem"].startswith("corrupt")


def test_tier_dry_run_says_what_and_why_and_tier_moves_to_a_cold_folder(
    ws: Path, tmp_path: Path
) -> None:
    digest = ok("artifacts", "put", "log.txt", cwd=ws).split()[0]
    cold = tmp_path / "archive"
    db = sqlite3.connect(ws / ".symphony" / "artifacts" / "pit.db")
    with db:  # pretend it was last read 40 days ago
        db.execute("UPDATE artifacts SET last_access = ?", (time.time() - 40 * 86400,))
    db.close()
    settings = ["--set", f"aide.artifacts.cold_url={cold}"]
    plan = ok("artifacts", "tier", "--dry-run", *settings, cwd=ws)
    assert digest[:12] in plan and "hot -> cold" in plan and "warm_days = 30" in plan
    assert not cold.exists()
    moved = json.loads(ok("artifacts", "tier", "--json", *settings, cwd=ws))
    assert [m["hash"] for m in moved["moved"]] == [digest]
    assert (
        json.loads(ok("artifacts", "show", digest, "--json", *settings, cwd=ws))["tier"] == "cold"
    )
    # Reading it brings it back, transparently.
    assert (
        symphony("artifacts", "get", digest, *settings, cwd=ws).stdout
        == (ws / "log.txt").read_bytes()
    )
    assert json.loads(ok("artifacts", "show", digest, "--json", *settings, cwd=ws))["tier"] == "hot"


def test_pin_keeps_an_old_artifact_in_place(ws: Path) -> None:
    digest = ok("artifacts", "put", "log.txt", cwd=ws).split()[0]
    db = sqlite3.connect(ws / ".symphony" / "artifacts" / "pit.db")
    with db:
        db.execute("UPDATE artifacts SET last_access = ?", (time.time() - 400 * 86400,))
    db.close()
    assert ok("artifacts", "pin", digest[:10], cwd=ws).strip() == digest
    assert "0 move(s) planned" in symphony("artifacts", "tier", "--dry-run", cwd=ws).stderr.decode()
    ok("artifacts", "unpin", digest, cwd=ws)
    assert digest[:12] in ok("artifacts", "tier", "--dry-run", cwd=ws)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["artifacts", "show", "deadbeef"], "no artifact"),
        (["artifacts", "get", "nosuchname"], "no artifact"),
        (["artifacts", "put", "missing.txt"], "missing.txt: no such file"),
        (["artifacts", "search", "x", "--since", "yesterday-ish"], "--since"),
        (["artifacts", "lineage", "x", "--up", "--down"], "exclude each other"),
        (
            ["artifacts", "put", "log.txt", "fix.diff", "--name", "both"],
            "--name applies to one file",
        ),
    ],
)
def test_user_errors_exit_2_with_one_clear_line(ws: Path, args: list[str], message: str) -> None:
    ok("artifacts", "put", "log.txt", cwd=ws)
    result = symphony(*args, cwd=ws)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.decode()
    assert result.stdout == b""


def test_ambiguous_prefix_lists_candidates(ws: Path) -> None:
    # Find two small payloads whose hashes share the first 4 hex digits, then store both.
    seen: dict[str, bytes] = {}
    i = 0
    while True:
        data = f"payload {i}\n".encode()
        prefix = hashlib.sha256(data).hexdigest()[:4]
        if prefix in seen:
            break
        seen[prefix] = data
        i += 1
    for payload in (seen[prefix], data):
        ok("artifacts", "put", "-", cwd=ws, stdin=payload)
    result = symphony("artifacts", "show", prefix, cwd=ws)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "ambiguous" in message
    assert hashlib.sha256(data).hexdigest()[:12] in message


def test_gc_dry_run_then_gc_removes_an_orphan(ws: Path) -> None:
    ok("artifacts", "put", "log.txt", cwd=ws)
    orphan = ws / ".symphony" / "artifacts" / "blobs" / "ab" / "cd" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind")
    dry = symphony("artifacts", "gc", "--dry-run", cwd=ws)
    assert "would remove" in dry.stdout.decode() and orphan.exists()
    ok("artifacts", "gc", cwd=ws)
    assert not orphan.exists()
    assert ok("artifacts", "verify", cwd=ws) == ""


def test_versions_of_a_name_with_an_at_sign(ws: Path) -> None:
    ok("artifacts", "put", "log.txt", "--name", "report@nightly", cwd=ws)
    ok("artifacts", "put", "fix.diff", "--name", "report@nightly", cwd=ws)
    listed = ok("artifacts", "show", "report@nightly", "--versions", cwd=ws)
    assert [line.split()[0] for line in listed.splitlines()] == [
        "report@nightly@1",
        "report@nightly@2",
    ]
    again = ok("artifacts", "show", "report@nightly@1", "--versions", cwd=ws)
    assert again == listed


def test_get_to_a_folder_is_a_usage_error(ws: Path) -> None:
    ok("artifacts", "put", "log.txt", "--name", "log", cwd=ws)
    (ws / "outdir").mkdir()
    result = symphony("artifacts", "get", "log", "-o", "outdir", cwd=ws)
    assert result.returncode == 2
    assert "outdir" in result.stderr.decode()


def test_get_to_a_file_keeps_its_mode_or_follows_the_umask(ws: Path) -> None:
    ok("artifacts", "put", "log.txt", "--name", "log", cwd=ws)
    mask = os.umask(0o022)
    os.umask(mask)
    ok("artifacts", "get", "log", "-o", "new.txt", cwd=ws)
    assert (ws / "new.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    script = ws / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    ok("artifacts", "get", "log", "-o", "run.sh", cwd=ws)
    assert script.stat().st_mode & 0o777 == 0o750
    assert script.read_bytes() == (ws / "log.txt").read_bytes()


def test_get_into_a_closed_pipe_stops_quietly(ws: Path) -> None:
    (ws / "big.bin").write_bytes(os.urandom(3 << 20))
    ok("artifacts", "put", "big.bin", "--name", "big", cwd=ws)
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = subprocess.run(
        [sys.executable, "-m", "symphony_cli", "artifacts", "get", "big"],
        cwd=ws,
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    assert reader.stdin is not None and reader.stdout is not None
    reader.stdin.close()
    assert len(reader.stdout.read()) == 1
    reader.stdout.close()
    reader.wait(timeout=10)
    assert writer.returncode == 1
    assert writer.stderr == b""


def test_tier_reports_a_move_skipped_because_the_artifact_was_read(ws: Path) -> None:
    from engine.pit.artifacts.store import ArtifactStore
    from engine.pit.stale import StaleManager

    digest = ok("artifacts", "put", "log.txt", cwd=ws).split()[0]
    root = ws / ".symphony" / "artifacts"
    db = sqlite3.connect(root / "pit.db")
    with db:
        db.execute("UPDATE artifacts SET last_access = ?", (time.time() - 10 * 86400,))
    db.close()
    from engine.config.models import ArtifactRetention

    retention = ArtifactRetention()
    with ArtifactStore(root) as store:
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        assert [m.hash for m in plan] == [digest]
        store.get_bytes(digest)  # read after planning: the demotion must not happen
        report = manager.apply(plan)
        assert report.moved == () and report.failed == ()
        assert [m.hash for m, _why in report.skipped] == [digest]
        assert store.info(digest).tier == "hot"
