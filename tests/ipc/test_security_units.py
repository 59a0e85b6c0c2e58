"""Unit checks of the security pieces: uid check, HMAC proofs, private folder and files,
the token bucket, and the child environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.ipc import TokenBucket, check_peer_uid, child_env, ensure_private_dir, runtime_dir
from engine.ipc.auth import client_proof, server_proof
from engine.ipc.discovery import from_env, read_secret, write_secret
from engine.types.errors import IpcError, IpcHandshakeError


def test_the_uid_check_refuses_other_users() -> None:
    check_peer_uid(1000, 1000)
    refused = "runs as uid 1001, this server accepts only uid 1000"
    with pytest.raises(IpcHandshakeError, match=refused):
        check_peer_uid(1001, 1000)
    with pytest.raises(IpcHandshakeError, match="uid 0"):
        check_peer_uid(0, 1000)  # not even root gets a free pass


def test_proofs_depend_on_secret_direction_nonces_and_name() -> None:
    secret, a, b = b"s" * 32, b"a" * 32, b"b" * 32
    proof = client_proof(secret, a, b, "host")
    assert proof == client_proof(secret, a, b, "host")
    others = {
        client_proof(b"t" * 32, a, b, "host"),
        client_proof(secret, b, a, "host"),
        client_proof(secret, a, b, "other"),
        server_proof(secret, b, a),
    }
    assert proof not in others
    assert len(proof) == 32


def test_runtime_dir_is_private_under_xdg_runtime_dir() -> None:
    path = runtime_dir()
    assert path == Path(os.environ["XDG_RUNTIME_DIR"]) / "symphony"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_runtime_dir_falls_back_to_tmp_per_user(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert runtime_dir() == tmp_path / f"symphony-{os.getuid()}"


def test_a_too_open_folder_is_repaired(tmp_path: Path) -> None:
    folder = tmp_path / "sockets"
    folder.mkdir(mode=0o755)
    folder.chmod(0o777)
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_symlinked_or_foreign_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(IpcError, match="is a symbolic link"):
        ensure_private_dir(link)
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(IpcError, match="is not a folder"):
        ensure_private_dir(afile)
    if os.getuid() != 0:
        pytest.skip("only root can give a folder to another user")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    with pytest.raises(IpcError, match="owned by uid 65534, not by this user"):
        ensure_private_dir(foreign)


def test_secret_files_are_written_atomically_and_privately(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "engine.key", b"\x01\x02")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "0102\n"
    assert read_secret(path) == b"\x01\x02"
    assert [p.name for p in tmp_path.iterdir()] == ["engine.key"]  # no temp file left
    with pytest.raises(IpcError, match="cannot read the IPC secret"):
        read_secret(tmp_path / "missing.key")


def test_child_environment_round_trips(tmp_path: Path) -> None:
    env = child_env("unix:/run/x.sock", b"\xab\xcd")
    assert env == {"SYMPHONY_IPC_ADDRESS": "unix:/run/x.sock", "SYMPHONY_IPC_SECRET": "abcd"}
    assert from_env(env) == ("unix:/run/x.sock", b"\xab\xcd")
    key = write_secret(tmp_path / "k.key", b"\x07")
    by_file = {"SYMPHONY_IPC_ADDRESS": "tcp:127.0.0.1:1", "SYMPHONY_IPC_SECRET_FILE": str(key)}
    assert from_env(by_file) == ("tcp:127.0.0.1:1", b"\x07")
    with pytest.raises(IpcError, match="SYMPHONY_IPC_ADDRESS is not set"):
        from_env({})
    with pytest.raises(IpcError, match="not hex"):
        from_env({"SYMPHONY_IPC_ADDRESS": "a", "SYMPHONY_IPC_SECRET": "zz"})


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.1)
    now[0] += 0.05
    assert bucket.take() == pytest.approx(0.05)  # half a token saved up so far
    now[0] += 0.05
    assert bucket.take() == 0.0
    now[0] += 100.0
    assert [bucket.take() for _ in range(4)][-1] > 0  # never more than the burst saved up
    assert bucket.describe() == "10 msg/s, burst 3"
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(0, 1)
