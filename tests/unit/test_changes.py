"""Proposed changes on real files: apply then undo restores the exact tree (property test),
refusals (changed on disk, path escapes), rollback of a failed write, crash safety under
kill -9, checkpoint listing, artifacts with lineage, and the bus commands of a real engine."""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.changes import (
    ChangeConflict,
    ChangeSet,
    CheckpointState,
    FileChange,
    NothingToUndo,
    UnsafePath,
    apply_changes,
    diff_text,
    list_checkpoints,
    propose,
    stat_line,
    undo,
)
from engine.changes.checkpoints import checkpoints_dir, prune_incomplete
from engine.changes.model import sha256
from engine.types.errors import SymphonyError, UsageError


def tree(root: Path) -> dict[str, tuple[str, bytes | None, int]]:
    """Every path under root except the state folder: kind, bytes and permission bits."""
    found: dict[str, tuple[str, bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == ".symphony" or rel.startswith(".symphony/"):
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            found[rel] = ("dir", None, mode)
        else:
            found[rel] = ("file", path.read_bytes(), mode)
    return found


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text("print('hello')\n")
    (root / "notes.txt").write_text("keep me\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "data.bin").write_bytes(bytes(range(256)))
    return root


# --- apply and undo ---------------------------------------------------------------------------


def test_apply_then_undo_restores_created_deleted_modified_and_modes(ws: Path) -> None:
    before = tree(ws)
    cs = propose(
        ws,
        {
            "app.py": "print('hello, world')\n",
            "notes.txt": None,
            "pkg/sub/new.py": "X = 1\n",
            "run.sh": "#!/bin/sh\necho bye\n",
            "data.bin": b"\x00\xff" * 10,
        },
        modes={"pkg/sub/new.py": 0o600},
        title="demo",
    )
    cp = apply_changes(ws, cs, ["app.py", "notes.txt", "pkg/sub/new.py", "run.sh", "data.bin"])
    assert cp.state is CheckpointState.APPLIED
    assert (ws / "app.py").read_text() == "print('hello, world')\n"
    assert not (ws / "notes.txt").exists()
    assert stat.S_IMODE((ws / "pkg/sub/new.py").stat().st_mode) == 0o600
    assert stat.S_IMODE((ws / "run.sh").stat().st_mode) == 0o755  # mode kept
    assert cp.created_dirs == ("pkg", "pkg/sub")

    result = undo(ws)
    actions = {f.path: f.action for f in result.files}
    assert actions == {
        "app.py": "restored",
        "notes.txt": "recreated",
        "pkg/sub/new.py": "deleted",
        "run.sh": "restored",
        "data.bin": "restored",
    }
    assert tree(ws) == before
    assert result.checkpoint.state is CheckpointState.UNDONE
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        undo(ws)


def test_only_accepted_files_are_written(ws: Path) -> None:
    cs = propose(ws, {"app.py": "changed\n", "notes.txt": "changed too\n"})
    cp = apply_changes(ws, cs, ["notes.txt"])
    assert cp.paths == ("notes.txt",)
    assert (ws / "app.py").read_text() == "print('hello')\n"
    assert (ws / "notes.txt").read_text() == "changed too\n"
    with pytest.raises(UsageError, match="nothing to apply"):
        apply_changes(ws, cs, [])
    with pytest.raises(UsageError, match=re.escape("not in the change set: other.py")):
        apply_changes(ws, cs, ["other.py"])


names = st.sampled_from(["a.txt", "b.py", "d/c.txt", "d/e/f.bin", "g/h.md", "x.sh"])
contents = st.binary(max_size=64) | st.text(max_size=40).map(str.encode)
modes = st.sampled_from([0o644, 0o600, 0o755, 0o444])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    existing=st.dictionaries(names, st.tuples(contents, modes), max_size=5),
    proposed=st.dictionaries(names, st.one_of(st.none(), contents), max_size=6),
    new_modes=st.dictionaries(names, modes, max_size=3),
    data=st.data(),
)
def test_apply_then_undo_gives_the_exact_original_tree(
    tmp_path_factory: pytest.TempPathFactory,
    existing: dict[str, tuple[bytes, int]],
    proposed: dict[str, bytes | None],
    new_modes: dict[str, int],
    data: st.DataObject,
) -> None:
    root = tmp_path_factory.mktemp("tree")
    for rel, (content, mode) in existing.items():
        if any(other.startswith(rel + "/") for other in existing):
            continue
        path = root / rel
        if path.parent.exists() and not path.parent.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    folders = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}
    wanted: dict[str, str | bytes | None] = {}
    for rel, new in proposed.items():
        blocked = rel in folders or any(rel.startswith(f + "/") for f in present)
        if blocked or (new is None and rel not in present):
            continue
        wanted[rel] = new
    before = tree(root)
    cs = propose(root, wanted, modes={k: v for k, v in new_modes.items() if k in wanted})
    if not cs.changes:
        return
    accepted = data.draw(st.lists(st.sampled_from(cs.paths), min_size=1, unique=True))
    apply_changes(root, cs, accepted)
    for rel in accepted:
        change = cs.get(rel)
        assert change is not None
        if change.after is None:
            assert not (root / rel).exists()
        else:
            assert (root / rel).read_bytes() == change.after
    undo(root)
    assert tree(root) == before


def test_repeated_undo_walks_back_through_checkpoints(ws: Path) -> None:
    first = apply_changes(ws, propose(ws, {"app.py": "v2\n"}, title="first"))
    second = apply_changes(ws, propose(ws, {"app.py": "v3\n"}, title="second"))
    listed = list_checkpoints(ws)
    assert [cp.id for cp in listed] == [second.id, first.id]
    assert [cp.title for cp in listed] == ["second", "first"]
    assert undo(ws).checkpoint.id == second.id
    assert (ws / "app.py").read_text() == "v2\n"
    assert undo(ws).checkpoint.id == first.id
    assert (ws / "app.py").read_text() == "print('hello')\n"
    assert [cp.state for cp in list_checkpoints(ws)] == [CheckpointState.UNDONE] * 2
    with pytest.raises(UsageError, match="already undone"):
        undo(ws, first.id[:18])


def test_only_the_newest_checkpoints_are_kept(ws: Path) -> None:
    first = apply_changes(ws, propose(ws, {"app.py": "v2\n"}, title="first"), keep=2)
    # an apply a crash cut short is never pruned: undo is how it gets repaired
    manifest = checkpoints_dir(ws) / first.id / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"applied"', '"applying"'))
    second = apply_changes(ws, propose(ws, {"app.py": "v3\n"}, title="second"), keep=2)
    third = apply_changes(ws, propose(ws, {"notes.txt": "v4\n"}, title="third"), keep=2)
    assert [cp.id for cp in list_checkpoints(ws)] == [third.id, second.id, first.id]
    manifest.write_text(manifest.read_text().replace('"applying"', '"applied"'))
    partial = checkpoints_dir(ws) / "20000101-000000-abcdef"  # a crash while taking one
    (partial / "files").mkdir(parents=True)
    fourth = apply_changes(ws, propose(ws, {"app.py": "v5\n"}, title="fourth"), keep=2)
    assert [cp.id for cp in list_checkpoints(ws)] == [fourth.id, third.id]
    assert sorted(p.name for p in checkpoints_dir(ws).iterdir()) == sorted([fourth.id, third.id])
    with pytest.raises(UsageError, match="no checkpoint"):
        undo(ws, second.id)
    assert undo(ws).checkpoint.id == fourth.id
    assert undo(ws).checkpoint.id == third.id
    assert (ws / "app.py").read_text() == "v3\n" and (ws / "notes.txt").read_text() == "keep me\n"


# --- refusals -----------------------------------------------------------------------------------


def test_apply_refuses_a_file_changed_since_it_was_proposed(ws: Path) -> None:
    cs = propose(ws, {"app.py": "mine\n", "notes.txt": "also mine\n", "new.txt": "n\n"})
    (ws / "notes.txt").write_text("someone else's edit\n")
    (ws / "new.txt").write_text("appeared meanwhile\n")
    with pytest.raises(
        ChangeConflict, match=re.escape("notes.txt, new.txt changed on disk")
    ) as caught:
        apply_changes(ws, cs)
    assert caught.value.paths == ("notes.txt", "new.txt")
    assert (ws / "app.py").read_text() == "print('hello')\n"  # nothing applied
    assert list_checkpoints(ws) == []


def test_undo_refuses_a_file_changed_since_unless_forced(ws: Path) -> None:
    cp = apply_changes(ws, propose(ws, {"app.py": "applied\n", "notes.txt": None}))
    (ws / "app.py").write_text("edited after apply\n")
    with pytest.raises(
        ChangeConflict, match=re.escape("changed since the change was applied: app.py")
    ):
        undo(ws)
    assert (ws / "app.py").read_text() == "edited after apply\n"
    assert not (ws / "notes.txt").exists()
    result = undo(ws, cp.id, force=True)
    assert result.forced == ("app.py",)
    assert (ws / "app.py").read_text() == "print('hello')\n"
    kept = checkpoints_dir(ws) / cp.id / "overwritten" / "0"
    assert kept.read_text() == "edited after apply\n"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.txt", "goes outside the workspace"),
        ("a/../../outside.txt", "goes outside the workspace"),
        ("/etc/passwd", "absolute path"),
        ("./app.py", "not a normal path"),
        ("a//b.txt", "not a normal path"),
        (".symphony/checkpoints/x", "state folder"),
        ("", "not a file name"),
    ],
)
def test_path_escapes_are_refused(ws: Path, path: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        propose(ws, {path: "x"})
    forged = ChangeSet(id="f", changes=(FileChange(path=path, before_sha256=None, after=b"x"),))
    with pytest.raises(UnsafePath, match=reason):
        apply_changes(ws, forged)


def test_symlinks_out_of_the_workspace_are_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("safe\n")
    (ws / "link-dir").symlink_to(outside)
    (ws / "link-file").symlink_to(outside / "victim.txt")
    with pytest.raises(UnsafePath, match="link out of the workspace"):
        propose(ws, {"link-dir/victim.txt": "pwned\n"})
    forged = ChangeSet(
        id="f",
        changes=(
            FileChange(
                path="link-file", before_sha256=sha256(b"safe\n"), before=b"safe\n", after=b"x"
            ),
        ),
    )
    with pytest.raises(UnsafePath, match="symbolic link"):
        apply_changes(ws, forged)
    assert (outside / "victim.txt").read_text() == "safe\n"


def test_a_folder_is_not_a_file(ws: Path) -> None:
    (ws / "folder").mkdir()
    with pytest.raises(UnsafePath, match="a folder"):
        propose(ws, {"folder": "x"})


# --- failures and crashes -----------------------------------------------------------------------


def test_a_failed_write_rolls_back_the_files_already_written(ws: Path) -> None:
    (ws / "blocker").write_text("a file where a folder is needed\n")
    before = tree(ws)
    cs = ChangeSet(
        id="rollback",
        changes=(
            *propose(ws, {"app.py": "new app\n", "notes.txt": None, "fresh/one.txt": "1"}).changes,
            FileChange(path="blocker/child.txt", before_sha256=None, after=b"cannot exist"),
        ),
    )
    with pytest.raises(SymphonyError, match=re.escape("blocker/child.txt: cannot write")) as caught:
        apply_changes(ws, cs)
    assert "nothing was changed" in str(caught.value)
    assert tree(ws) == before  # app.py, notes.txt and the fresh/ folder are back as they were
    assert list_checkpoints(ws) == []
    assert not any(checkpoints_dir(ws).iterdir())


CRASHER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.changes import propose, apply_changes
    root = Path(sys.argv[1])
    cs = propose(root, {f"f{i:03}.txt": f"new {i}\\n" * 200 for i in range(300)})
    print("go", flush=True)
    apply_changes(root, cs)
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.4])
def test_kill_9_during_apply_leaves_old_files_or_an_undoable_checkpoint(
    tmp_path: Path, delay: float
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(0, 300, 2):  # half the files exist, half are created
        (root / f"f{i:03}.txt").write_text(f"old {i}\n")
    before = tree(root)
    with subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(root)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "go\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    prune_incomplete(root)  # a checkpoint without its manifest changed nothing
    if list_checkpoints(root):
        undo(root)
    assert tree(root) == before


def test_incomplete_checkpoint_folders_are_ignored_and_pruned(ws: Path) -> None:
    partial = checkpoints_dir(ws) / "20000101-000000-abcdef"
    (partial / "files").mkdir(parents=True)
    (partial / "files" / "0").write_text("half a copy")
    assert list_checkpoints(ws) == []
    with pytest.raises(NothingToUndo):
        undo(ws)
    assert prune_incomplete(ws) == ["20000101-000000-abcdef"]
    assert not partial.exists()


def test_undo_after_an_interrupted_apply(ws: Path) -> None:
    """The manifest says ``applying`` and only some files were written: undo restores all."""
    before = tree(ws)
    cs = propose(ws, {"app.py": "new\n", "notes.txt": None, "made.txt": "m"})
    cp = apply_changes(ws, cs)
    manifest = checkpoints_dir(ws) / cp.id / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"applied"', '"applying"'))
    (ws / "notes.txt").write_text("keep me\n")  # as if the crash came before this write
    (ws / "made.txt").unlink()
    result = undo(ws)
    assert {f.path: f.action for f in result.files} == {
        "app.py": "restored",
        "notes.txt": "unchanged",
        "made.txt": "unchanged",
    }
    assert tree(ws) == before


# --- diffs, artifacts, bus ----------------------------------------------------------------------


def test_diff_text_and_stat_lines(ws: Path) -> None:
    cs = propose(
        ws,
        {"app.py": "print('bye')\n", "data.bin": b"\x00new", "made.txt": "a\nb", "notes.txt": None},
    )
    text = diff_text(cs)
    assert "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-print('hello')\n+print('bye')\n" in text
    assert "Binary file modified: 256 bytes before, 4 bytes after" in text
    assert "--- /dev/null\n+++ b/made.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline" in text
    assert "--- a/notes.txt\n+++ /dev/null\n" in text
    assert [stat_line(c) for c in cs.changes] == [
        "M app.py  +1 -1",
        "M data.bin  binary",
        "A made.txt  +2 -0",
        "D notes.txt  +0 -1",
    ]
    assert ChangeSet.from_json(cs.to_json()) == cs


def test_artifacts_are_recorded_with_lineage(ws: Path, tmp_path: Path) -> None:
    from engine.pit.artifacts.models import Producer
    from engine.pit.artifacts.store import ArtifactStore

    with ArtifactStore(tmp_path / "store") as store:
        prompt = store.put_bytes(b"make it say bye", name="prompt")
        cp = apply_changes(
            ws,
            propose(ws, {"app.py": "print('bye')\n"}),
            store=store,
            producer=Producer(run="r1", node="edit"),
            inputs=[prompt.hash],
        )
        assert set(cp.artifacts) == {"change_set", "diff", "checkpoint"}
        with store.open(cp.artifacts["diff"]) as f:
            diff = f.read().decode()
        assert "+print('bye')" in diff
        edges = store.lineage(cp.artifacts["diff"], direction="up", depth=3)
        ancestors = {e.parent for e in edges} | {e.child for e in edges}
        assert {cp.artifacts["change_set"], prompt.hash} <= ancestors


def test_bus_commands_apply_list_and_undo(ws: Path) -> None:
    from engine.changes.messages import (
        ApplyChanges,
        ChangesApplied,
        ChangesUndone,
        CheckpointList,
        ListCheckpoints,
        UndoChanges,
    )
    from engine.runtime import Engine

    before = tree(ws)
    cs = propose(ws, {"app.py": "via the bus\n", "new.txt": "n\n"})
    with Engine(ws, watch_config=False) as engine:
        applied = engine.send(ApplyChanges(change_set=cs, accepted=("app.py",)))
        assert isinstance(applied, ChangesApplied) and applied.files == ("app.py",)
        assert (ws / "app.py").read_text() == "via the bus\n" and not (ws / "new.txt").exists()
        listed = engine.send(ListCheckpoints())
        assert isinstance(listed, CheckpointList)
        assert [c.id for c in listed.checkpoints] == [applied.checkpoint.id]
        undone = engine.send(UndoChanges())
        assert isinstance(undone, ChangesUndone)
        assert [(f.path, f.action) for f in undone.files] == [("app.py", "restored")]
        with pytest.raises(SymphonyError, match="nothing to undo"):
            engine.send(UndoChanges())
    assert {k: v for k, v in tree(ws).items() if k != ".symphony"} == before


def test_the_engine_keeps_as_many_checkpoints_as_configured(ws: Path) -> None:
    from engine.changes.messages import ApplyChanges, ChangesApplied
    from engine.runtime import Engine

    with Engine(ws, watch_config=False, overrides=["aide.keep_checkpoints=1"]) as engine:
        for text in ("one\n", "two\n"):
            cs = propose(ws, {"app.py": text})
            applied = engine.send(ApplyChanges(change_set=cs, accepted=("app.py",)))
            assert isinstance(applied, ChangesApplied)
    assert [cp.id for cp in list_checkpoints(ws)] == [applied.checkpoint.id]
