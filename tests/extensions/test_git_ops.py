"""The built-in git operator against real repositories: status, diff and commit.

Every test gets its own git configuration (no system or user config leaks in) and identity
through the harness environment, which the manifest's ``GIT_AUTHOR_*`` and ``GIT_COMMITTER_*``
grants pass to git.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extensions.discovery import builtin_root
from engine.types.errors import ExtensionError
from symphony_sdk.testing import ExtensionHarness

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def base_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    config = home / ".gitconfig"
    if not config.exists():
        config.write_text("[init]\n\tdefaultBranch = main\n")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(config),
        # Never find a repository above the test's folder.
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**base_env(tmp_path), **IDENTITY}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


def git(env: dict[str, str], cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def commit_all(env: dict[str, str], cwd: Path, message: str) -> None:
    git(env, cwd, "add", "--all")
    git(env, cwd, "commit", "-q", "-m", message)


@pytest.fixture
def repo(ws: Path, env: dict[str, str]) -> Path:
    git(env, ws, "init", "-q")
    # The artifact store lives in the workspace (.symphony/); keep it out of the repository's
    # status so git.diff's artifact does not show up as an untracked file.
    (ws / ".git" / "info" / "exclude").write_text(".symphony/\n")
    return ws


@pytest.fixture
def h(ws: Path, env: dict[str, str]) -> Iterator[ExtensionHarness]:
    with ExtensionHarness(builtin_root() / "git", ws, environ=env) as harness:
        yield harness


# --- git.status ----------------------------------------------------------------------------------


def test_status_of_a_fresh_repository(repo: Path, h: ExtensionHarness) -> None:
    out = h.call("git.status")
    assert out == {
        "branch": "main",
        "head": "",
        "upstream": None,
        "ahead": 0,
        "behind": 0,
        "clean": True,
        "entries": [],
        "staged": [],
        "unstaged": [],
        "untracked": [],
    }


def test_status_before_the_first_commit_lists_staged_and_untracked(
    repo: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (repo / "a.txt").write_text("a\n")
    (repo / "b.txt").write_text("b\n")
    git(env, repo, "add", "a.txt")
    out = h.call("git.status")
    assert out["head"] == ""
    assert out["staged"] == ["a.txt"]
    assert out["untracked"] == ["b.txt"]
    assert not out["clean"]


def test_status_reports_every_kind_of_change(
    repo: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (repo / "a.txt").write_text("one\n")
    (repo / "old name.txt").write_text("moved\n" * 20)
    (repo / "gone.txt").write_text("bye\n")
    commit_all(env, repo, "start")
    head = git(env, repo, "rev-parse", "HEAD").strip()

    (repo / "a.txt").write_text("two\n")
    git(env, repo, "add", "a.txt")
    (repo / "a.txt").write_text("three\n")  # staged and unstaged
    git(env, repo, "mv", "old name.txt", "new name.txt")
    (repo / "gone.txt").unlink()
    (repo / "with space.txt").write_text("x")
    (repo / "new\nline.txt").write_text("y")
    (repo / "sub").mkdir()
    (repo / "sub" / "deep.txt").write_text("z")

    out = h.call("git.status")
    assert out["branch"] == "main"
    assert out["head"] == head
    assert not out["clean"]
    by_path = {e["path"]: e for e in out["entries"]}
    assert by_path["a.txt"] == {
        "path": "a.txt",
        "index": "M",
        "worktree": "M",
        "kind": "changed",
        "orig_path": None,
    }
    assert by_path["new name.txt"] == {
        "path": "new name.txt",
        "index": "R",
        "worktree": ".",
        "kind": "renamed",
        "orig_path": "old name.txt",
    }
    assert by_path["gone.txt"]["worktree"] == "D"
    assert by_path["new\nline.txt"]["kind"] == "untracked"
    assert sorted(out["staged"]) == ["a.txt", "new name.txt"]
    assert sorted(out["unstaged"]) == ["a.txt", "gone.txt"]
    assert sorted(out["untracked"]) == ["new\nline.txt", "sub/deep.txt", "with space.txt"]


def test_status_lists_ignored_files_only_when_asked(
    repo: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    commit_all(env, repo, "ignore logs")
    (repo / "debug.log").write_text("noise")
    assert h.call("git.status")["entries"] == []
    out = h.call("git.status", ignored=True)
    assert [(e["path"], e["kind"]) for e in out["entries"]] == [("debug.log", "ignored")]
    assert out["clean"]


def test_detached_head_has_no_branch(repo: Path, env: dict[str, str], h: ExtensionHarness) -> None:
    (repo / "a.txt").write_text("a")
    commit_all(env, repo, "one")
    git(env, repo, "checkout", "-q", "--detach")
    out = h.call("git.status")
    assert out["branch"] == ""
    assert out["head"] == git(env, repo, "rev-parse", "HEAD").strip()


def test_merge_conflict_is_reported(repo: Path, env: dict[str, str], h: ExtensionHarness) -> None:
    (repo / "c.txt").write_text("base\n")
    commit_all(env, repo, "base")
    git(env, repo, "checkout", "-q", "-b", "side")
    (repo / "c.txt").write_text("side\n")
    commit_all(env, repo, "side")
    git(env, repo, "checkout", "-q", "main")
    (repo / "c.txt").write_text("main\n")
    commit_all(env, repo, "main")
    git(env, repo, "merge", "side", check=False)

    out = h.call("git.status")
    assert out["entries"] == [
        {"path": "c.txt", "index": "U", "worktree": "U", "kind": "conflict", "orig_path": None}
    ]
    assert not out["clean"]
    assert out["staged"] == [] and out["unstaged"] == []


def test_ahead_and_behind_a_local_upstream(
    tmp_path: Path, repo: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    origin = tmp_path / "origin.git"
    git(env, tmp_path, "init", "-q", "--bare", str(origin))
    (repo / "a.txt").write_text("a")
    commit_all(env, repo, "one")
    git(env, repo, "remote", "add", "origin", str(origin))
    git(env, repo, "push", "-q", "-u", "origin", "main")
    other = tmp_path / "other"
    git(env, tmp_path, "clone", "-q", str(origin), str(other))
    (other / "b.txt").write_text("b")
    commit_all(env, other, "theirs")
    git(env, other, "push", "-q", "origin", "main")
    git(env, repo, "fetch", "-q", "origin")
    for n in range(2):
        (repo / f"mine{n}.txt").write_text(str(n))
        commit_all(env, repo, f"mine {n}")

    out = h.call("git.status")
    assert (out["upstream"], out["ahead"], out["behind"]) == ("origin/main", 2, 1)
    assert out["clean"]


def test_status_of_a_folder_that_is_no_repository_fails_with_gits_message(
    ws: Path, h: ExtensionHarness
) -> None:
    with pytest.raises(ExtensionError, match="not a git repository"):
        h.call("git.status")


def test_status_of_a_missing_folder_fails(ws: Path, h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="'nowhere' is not a folder"):
        h.call("git.status", path="nowhere")


def test_status_of_a_repository_in_a_subfolder(
    ws: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    sub = ws / "proj"
    sub.mkdir()
    git(env, sub, "init", "-q")
    (sub / "x.py").write_text("")
    assert h.call("git.status", path="proj")["untracked"] == ["x.py"]


def test_every_git_run_is_audited(repo: Path, h: ExtensionHarness) -> None:
    h.call("git.status")
    processes = [r.target for r in h.audit() if r.permission == "process"]
    assert processes and all(t.startswith("git ") for t in processes)
    assert h.audit(denied_only=True) == []


# --- git.diff ------------------------------------------------------------------------------------


@pytest.fixture
def committed(repo: Path, env: dict[str, str]) -> Path:
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    (repo / "b.txt").write_text("bee\n")
    commit_all(env, repo, "start")
    return repo


def test_diff_of_the_working_tree(committed: Path, h: ExtensionHarness) -> None:
    (committed / "a.txt").write_text("one\ntwo\nTHREE\nfour\nfive\nsix\n")
    out = h.call("git.diff")
    assert "-three\n+THREE\n" in out["diff"]
    assert out["files"] == [
        {"path": "a.txt", "orig_path": None, "added": 2, "deleted": 1, "binary": False}
    ]
    assert (out["added"], out["deleted"], out["empty"]) == (2, 1, False)

    info = h.store().info(out["artifact"])
    assert info.media_type == "text/x-diff"
    assert "git.diff@1" in info.names
    assert h.store().get_bytes(out["artifact"]).decode() == out["diff"]


def test_diff_separates_staged_from_unstaged(
    committed: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (committed / "a.txt").write_text("staged\n")
    git(env, committed, "add", "a.txt")
    (committed / "b.txt").write_text("unstaged\n")
    assert [f["path"] for f in h.call("git.diff")["files"]] == ["b.txt"]
    staged = h.call("git.diff", staged=True)
    assert [f["path"] for f in staged["files"]] == ["a.txt"]
    assert "+staged" in staged["diff"]


def test_empty_diff_stores_no_artifact(committed: Path, h: ExtensionHarness) -> None:
    out = h.call("git.diff")
    assert out == {
        "diff": "",
        "files": [],
        "added": 0,
        "deleted": 0,
        "empty": True,
        "artifact": None,
    }
    assert not (committed / ".symphony").exists()


def test_diff_against_a_base_limited_to_files_without_context(
    committed: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (committed / "a.txt").write_text("one\ntwo\n3\nfour\nfive\n")
    (committed / "b.txt").write_text("bee\nbuzz\n")
    commit_all(env, committed, "second")
    out = h.call("git.diff", base="HEAD~1")
    assert sorted(f["path"] for f in out["files"]) == ["a.txt", "b.txt"]
    assert (out["added"], out["deleted"]) == (2, 1)

    only_a = h.call("git.diff", base="HEAD~1", files=["a.txt"], context_lines=0)
    assert [f["path"] for f in only_a["files"]] == ["a.txt"]
    assert "\n two\n" not in only_a["diff"]  # no context lines
    assert "-three\n+3\n" in only_a["diff"]
    assert "\n two\n" in h.call("git.diff", base="HEAD~1", files=["a.txt"])["diff"]


def test_diff_counts_binary_files_and_renames(
    committed: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (committed / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    git(env, committed, "add", "blob.bin")
    git(env, committed, "mv", "b.txt", "c.txt")
    out = h.call("git.diff", staged=True)
    by_path = {f["path"]: f for f in out["files"]}
    assert by_path["blob.bin"] == {
        "path": "blob.bin",
        "orig_path": None,
        "added": 0,
        "deleted": 0,
        "binary": True,
    }
    assert by_path["c.txt"]["orig_path"] == "b.txt"
    assert (out["added"], out["deleted"]) == (0, 0)
    assert "Binary files" in out["diff"]


def test_diff_against_an_unknown_revision_fails(committed: Path, h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="bad revision 'no-such-branch'"):
        h.call("git.diff", base="no-such-branch")


def test_diff_refuses_an_option_as_base(committed: Path, h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="base must be a git revision"):
        h.call("git.diff", base="--output=/tmp/pwned")


# --- git.commit ----------------------------------------------------------------------------------


def test_commit_named_files_only(committed: Path, env: dict[str, str], h: ExtensionHarness) -> None:
    (committed / "a.txt").write_text("changed\n")
    (committed / "new.txt").write_text("new\n")
    (committed / "left out.txt").write_text("not this one\n")
    out = h.call("git.commit", message="Add new\n\nAnd change a.", files=["a.txt", "new.txt"])
    assert out["commit"] == git(env, committed, "rev-parse", "HEAD").strip()
    assert out["summary"] == "Add new"
    assert out["files_changed"] == 2
    assert git(env, committed, "log", "-1", "--format=%an <%ae>%n%B") == (
        "Ada Lovelace <ada@example.com>\nAdd new\n\nAnd change a.\n\n"
    )
    assert h.call("git.status")["untracked"] == ["left out.txt"]


def test_commit_all_includes_new_and_deleted_files(
    committed: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (committed / "b.txt").unlink()
    (committed / "fresh.txt").write_text("fresh\n")
    out = h.call("git.commit", message="Everything", all=True, author="Bob <bob@example.com>")
    assert out["files_changed"] == 2
    assert git(env, committed, "log", "-1", "--format=%an|%cn") == "Bob|Ada Lovelace\n"
    assert h.call("git.status")["clean"]


def test_first_commit_of_a_repository(repo: Path, h: ExtensionHarness) -> None:
    (repo / "README").write_text("hi\n")
    out = h.call("git.commit", message="Initial", all=True)
    assert (out["summary"], out["files_changed"]) == ("Initial", 1)
    assert h.call("git.status")["head"] == out["commit"]


def test_concluding_a_merge_that_keeps_our_side_is_a_commit(
    repo: Path, env: dict[str, str], h: ExtensionHarness
) -> None:
    (repo / "c.txt").write_text("base\n")
    commit_all(env, repo, "base")
    git(env, repo, "checkout", "-q", "-b", "side")
    (repo / "c.txt").write_text("side\n")
    commit_all(env, repo, "side")
    git(env, repo, "checkout", "-q", "main")
    (repo / "c.txt").write_text("main\n")
    commit_all(env, repo, "main")
    git(env, repo, "merge", "side", check=False)
    git(env, repo, "checkout", "--ours", "c.txt")
    # The resolved tree equals HEAD's: nothing is staged, yet the merge must be concluded.
    out = h.call("git.commit", message="Merge side", files=["c.txt"])
    assert out["files_changed"] == 0  # counted against the first parent, not side
    assert len(git(env, repo, "rev-list", "--parents", "-n", "1", "HEAD").split()) == 3


def test_nothing_to_commit_is_an_error(committed: Path, h: ExtensionHarness) -> None:
    (committed / "untracked.txt").write_text("not staged")
    with pytest.raises(ExtensionError, match="nothing to commit"):
        h.call("git.commit", message="Nothing")
    out = h.call("git.commit", message="Marker", allow_empty=True)
    assert out["files_changed"] == 0


def test_commit_outside_a_repository_fails(ws: Path, h: ExtensionHarness) -> None:
    (ws / "a.txt").write_text("a")
    with pytest.raises(ExtensionError, match="not a git repository"):
        h.call("git.commit", message="x", all=True)


def test_commit_without_an_identity_surfaces_gits_error(tmp_path: Path, committed: Path) -> None:
    env = base_env(tmp_path)  # no GIT_AUTHOR_* and git may not guess one
    Path(env["GIT_CONFIG_GLOBAL"]).write_text("[user]\n\tuseConfigOnly = true\n")
    (committed / "a.txt").write_text("changed\n")
    with (
        ExtensionHarness(builtin_root() / "git", committed, environ=env) as h,
        pytest.raises(ExtensionError, match=r"Author identity unknown.*fatal: no email"),
    ):
        h.call("git.commit", message="x", all=True)


def test_commit_message_is_required(committed: Path, h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="required input 'message'"):
        h.call("git.commit", all=True)
    with pytest.raises(ExtensionError, match="message is empty"):
        h.call("git.commit", message="  \n", all=True)
