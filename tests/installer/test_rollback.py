"""Atomic installs: a failure at any step — or a ``kill -9`` in the middle of the commit —
leaves the extensions folder and the registry exactly as they were."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.extensions.staging as staging
from engine.extensions.installer import Installer
from engine.extensions.store import ExtensionsDB
from engine.types.errors import ExtensionError, InstallError
from tests.installer.support import data_dir, installed_version, snapshot, user_dir, write_ext


@pytest.fixture
def db() -> Iterator[ExtensionsDB]:
    database = ExtensionsDB(data_dir() / "extensions.db")
    yield database
    database.close()


def install(db: ExtensionsDB, *folders: Path) -> None:
    with Installer([user_dir()], db) as installer:
        installer.commit(installer.plan_install([str(f) for f in folders]))


@pytest.fixture
def two_installed(tmp_path: Path, db: ExtensionsDB) -> list[Path]:
    """acme.one and acme.two 1.0.0 installed; returns their 2.0.0 folders."""
    src = tmp_path / "src"
    install(db, write_ext(src, "acme.one"), write_ext(src, "acme.two"))
    return [write_ext(src, "acme.one", "2.0.0"), write_ext(src, "acme.two", "2.0.0")]


def test_the_second_of_two_updates_failing_rolls_back_the_first(
    two_installed: list[Path], db: ExtensionsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot()
    real_move = staging._move
    calls: list[Path] = []

    def failing_move(src: Path, dst: Path) -> None:
        calls.append(dst)
        if len(calls) == 4:  # one: aside, in; two: aside, then placing the new one fails
            raise OSError(28, "No space left on device")
        real_move(src, dst)

    monkeypatch.setattr(staging, "_move", failing_move)
    with Installer([user_dir()], db) as installer:
        plan = installer.plan_install([str(f) for f in two_installed])
        with pytest.raises(InstallError, match=r"nothing changed: .*No space left on device"):
            installer.commit(plan)
    monkeypatch.setattr(staging, "_move", real_move)
    assert snapshot() == before
    assert installed_version("acme.one") == installed_version("acme.two") == "1.0.0"
    assert not list(user_dir().glob(".install-*"))  # the staging folder is gone too


def test_a_registry_failure_moves_every_folder_back(
    two_installed: list[Path], db: ExtensionsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ExtensionError("extensions.db: database is locked")

    with Installer([user_dir()], db) as installer:
        plan = installer.plan_install([str(f) for f in two_installed])
        monkeypatch.setattr(db, "apply", broken)
        with pytest.raises(InstallError, match=r"nothing changed: .*database is locked"):
            installer.commit(plan)
    assert snapshot() == before


KILLER = """
import os, signal, sys
from pathlib import Path
import engine.extensions.staging as staging
from engine.extensions.installer import Installer
from engine.extensions.store import ExtensionsDB

real, moves = staging._move, []
def move(src, dst):
    real(src, dst)
    moves.append(dst)
    if len(moves) == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)  # mid-commit, before the registry changes
staging._move = move
user_dir = Path(sys.argv[2])
db = ExtensionsDB(user_dir.parent / "extensions.db")
with Installer([user_dir], db) as installer:
    installer.commit(installer.plan_install(sys.argv[3:]))
"""


@pytest.mark.parametrize("moves", [1, 2, 3])
def test_a_kill_during_the_commit_is_rolled_back_by_the_next_install(
    two_installed: list[Path], db: ExtensionsDB, tmp_path: Path, moves: int
) -> None:
    before = snapshot()
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(KILLER),
            str(moves),
            str(user_dir()),
            *map(str, two_installed),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    assert snapshot() != before  # the interrupted commit left folders moved
    with Installer([user_dir()], db):  # the next transaction recovers first
        pass
    assert snapshot() == before
    assert not list(user_dir().glob(".install-*"))
