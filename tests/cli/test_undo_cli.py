"""``symphony undo`` as a user runs it (real subprocesses, real files), and the helper ``ask``
uses for ``--dry-run`` / ``--apply`` of proposed changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.changes import apply_changes, list_checkpoints, propose
from symphony_cli.changes import apply_or_preview
from tests.cli.test_cli import symphony


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("print('hello')\n")
    (root / "old.txt").write_text("old\n")
    return root


def test_undo_restores_and_says_what(ws: Path) -> None:
    cp = apply_changes(
        ws, propose(ws, {"app.py": "print('bye')\n", "old.txt": None, "new.txt": "n\n"}, title="t")
    )
    listed = symphony("undo", "--list", cwd=ws)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"{cp.id}  applied ")
    assert "3 files  t" in listed.stdout

    result = symphony("undo", cwd=ws)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "restored app.py",
        "recreated old.txt (the change deleted it)",
        "deleted new.txt (the change created it)",
    ]
    assert f"undid checkpoint {cp.id} (t): 3 files" in result.stderr
    assert (ws / "app.py").read_text() == "print('hello')\n"
    assert (ws / "old.txt").read_text() == "old\n" and not (ws / "new.txt").exists()

    again = symphony("undo", cwd=ws)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "symphony: error: nothing to undo: no applied change in this workspace"
    )
    assert again.stdout == ""


def test_undo_refuses_a_changed_file_until_forced_and_json(ws: Path) -> None:
    cp = apply_changes(ws, propose(ws, {"app.py": "applied\n"}))
    (ws / "app.py").write_text("edited since\n")
    refused = symphony("undo", "-w", str(ws), cwd=ws.parent)
    assert refused.returncode == 2
    assert "changed since the change was applied: app.py" in refused.stderr
    assert "--force" in refused.stderr
    assert (ws / "app.py").read_text() == "edited since\n"

    forced = symphony("undo", cp.id[:17], "--force", "--json", cwd=ws)
    assert forced.returncode == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["checkpoint"]["id"] == cp.id and data["checkpoint"]["state"] == "undone"
    assert data["files"] == [{"path": "app.py", "action": "restored"}]
    assert data["forced"] == ["app.py"]
    assert (ws / "app.py").read_text() == "print('hello')\n"

    listed = json.loads(symphony("undo", "--list", "--json", cwd=ws).stdout)
    assert [(c["id"], c["state"]) for c in listed] == [(cp.id, "undone")]


def test_unknown_checkpoint_and_empty_list(ws: Path) -> None:
    empty = symphony("undo", "--list", cwd=ws)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "no checkpoints" in empty.stderr
    unknown = symphony("undo", "nope", cwd=ws)
    assert unknown.returncode == 2
    assert "no checkpoint 'nope'" in unknown.stderr


def test_apply_or_preview_dry_run_prints_diffs_and_writes_nothing(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cs = propose(ws, {"app.py": "print('bye')\n", "new.txt": "n\n"})
    assert apply_or_preview(cs, ws, apply=False) is None
    out, err = capsys.readouterr()
    assert out.startswith("--- a/app.py\n+++ b/app.py\n")
    assert "+++ b/new.txt\n@@ -0,0 +1 @@\n+n\n" in out
    assert "2 files would change (dry run; --apply writes them)" in err
    assert (ws / "app.py").read_text() == "print('hello')\n" and not (ws / "new.txt").exists()
    assert list_checkpoints(ws) == []

    apply_or_preview(cs, ws, apply=False, json_=True)
    line = json.loads(capsys.readouterr().out)
    assert line["event"] == "ChangesProposed"
    assert line["files"][1] == {"path": "new.txt", "kind": "created", "added": 1, "removed": 0}


def test_apply_or_preview_applies_everything_behind_a_checkpoint(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cs = propose(ws, {"app.py": "print('bye')\n", "old.txt": None})
    cp = apply_or_preview(cs, ws, apply=True)
    assert cp is not None and cp.paths == ("app.py", "old.txt")
    out, err = capsys.readouterr()
    assert out.splitlines() == ["M app.py  +1 -1", "D old.txt  +0 -1"]
    assert f"checkpoint {cp.id} (symphony undo restores them)" in err
    assert not (ws / "old.txt").exists()
    restored = symphony("undo", cwd=ws)
    assert restored.returncode == 0, restored.stderr
    assert (ws / "old.txt").read_text() == "old\n"
