"""Built-in git operator: ``git.status``, ``git.diff`` and ``git.commit`` in a workspace repository.

Every call runs the real ``git`` through the context (so the manifest's permissions apply and
are audited) with prompts off and the C locale, and reads its ``-z`` machine output, never the
human one. A failing git command fails the step with the first lines of git's own error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from extensions.git.porcelain import parse_numstat, parse_status
from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from symphony_sdk import ProcessResult, StepContext

# No prompt may wait for a terminal nobody watches; C locale keeps messages stable.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
ERROR_LINES = 3


class GitError(Exception):
    """A git command failed; the message carries git's own explanation."""


class NothingToCommit(GitError):
    """``git.commit`` found no staged change (and ``allow_empty`` is false)."""


class GitOperator(Operator):
    """Inspect and commit changes of a git repository in the workspace."""

    @step("git.status")
    def status(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        path = _repo(ctx, inputs["path"])
        argv = [
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
        ]
        if inputs["ignored"]:
            argv.append("--ignored")
        result = _git(ctx, path, argv)
        return parse_status(result.stdout).outputs()

    @step("git.diff")
    def diff(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        path = _repo(ctx, inputs["path"])
        if inputs["context_lines"] < 0:
            raise ValueError("context_lines must be 0 or more")
        args = ["--no-ext-diff", "--no-color"]
        if inputs["staged"]:
            args.append("--cached")
        base = inputs["base"]
        if base is not None:
            if not base or base.startswith("-"):
                raise ValueError(f"base must be a git revision, got {base!r}")
            args.append(base)
        pathspec = ["--", *inputs["files"]] if inputs["files"] else ["--"]
        text = _git(ctx, path, ["diff", f"-U{inputs['context_lines']}", *args, *pathspec]).stdout
        numstat = parse_numstat(
            _git(ctx, path, ["diff", "--numstat", "-z", *args, *pathspec]).stdout
        )
        artifact = None
        if text:
            ref = ctx.artifacts.put_bytes(
                text.encode("utf-8"), name="git.diff", media_type="text/x-diff"
            )
            artifact = ref.hash
        return {
            "diff": text,
            "files": numstat.files,
            "added": numstat.added,
            "deleted": numstat.deleted,
            "empty": not text,
            "artifact": artifact,
        }

    @step("git.commit")
    def commit(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        path = _repo(ctx, inputs["path"])
        message: str = inputs["message"]
        if not message.strip():
            raise ValueError("the commit message is empty")
        if inputs["all"]:
            _git(ctx, path, ["add", "--all"])
        if inputs["files"]:
            _git(ctx, path, ["add", "--", *inputs["files"]])
        if not inputs["allow_empty"] and not _has_staged(ctx, path) and not _merging(ctx, path):
            raise NothingToCommit(
                "nothing to commit: no staged changes (give `files`, set `all`, or"
                " `allow_empty` for an empty commit)"
            )
        argv = ["commit", "--file=-"]
        if inputs["allow_empty"]:
            argv.append("--allow-empty")
        if inputs["author"] is not None:
            argv.append(f"--author={inputs['author']}")
        _git(ctx, path, argv, input=message.encode("utf-8"))
        sha = _git(ctx, path, ["rev-parse", "HEAD"]).stdout.strip()
        body = _git(ctx, path, ["log", "-1", "--format=%B", sha]).stdout
        changed = _git(
            ctx, path, ["diff-tree", "-r", "-z", "--name-only", *_tree_pair(ctx, path, sha)]
        )
        return {
            "commit": sha,
            "summary": next((line for line in body.splitlines() if line.strip()), ""),
            "files_changed": sum(1 for name in changed.stdout.split("\0") if name),
        }


def _repo(ctx: StepContext, path: str) -> str:
    """Check that ``path`` is a workspace folder (fs.read) and return it for ``cwd``."""
    if not ctx.fs.path(path).is_dir():
        raise GitError(f"{path!r} is not a folder in the workspace")
    return path


def _git(
    ctx: StepContext,
    path: str,
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    check: bool = True,
) -> ProcessResult:
    result = ctx.run(["git", *argv], cwd=path, env=GIT_ENV, input=input)
    if check and not result.ok:
        raise GitError(_failure(argv, path, result))
    return result


def _failure(argv: Sequence[str], path: str, result: ProcessResult) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if not lines:  # some failures (a commit hook, "nothing to commit") only speak on stdout
        lines = [line for line in result.stdout.splitlines() if line.strip()]
    command = next((a for a in argv if not a.startswith("-")), "")
    where = "" if path in (".", "") else f" in {path!r}"
    # git's first line says what went wrong; its "fatal:" lines say why (the rest is advice).
    picked = lines[:1] + [x for x in lines[1:] if x.startswith(("fatal:", "error:"))]
    detail = "; ".join(picked[:ERROR_LINES]) or f"exit status {result.returncode}"
    return f"git {command}{where} failed: {detail}"


def _has_staged(ctx: StepContext, path: str) -> bool:
    result = _git(ctx, path, ["diff", "--cached", "--quiet", "--no-ext-diff"], check=False)
    if result.returncode not in (0, 1):
        raise GitError(_failure(["diff"], path, result))
    return result.returncode == 1


def _tree_pair(ctx: StepContext, path: str, sha: str) -> list[str]:
    """``diff-tree`` arguments comparing ``sha`` with its first parent (or nothing, for a root)."""
    parents = _git(ctx, path, ["rev-list", "--parents", "-n", "1", sha]).stdout.split()[1:]
    return [parents[0], sha] if parents else ["--root", "--no-commit-id", sha]


def _merging(ctx: StepContext, path: str) -> bool:
    # Concluding a merge is a valid commit even when the result equals HEAD's tree.
    result = _git(ctx, path, ["rev-parse", "-q", "--verify", "MERGE_HEAD"], check=False)
    return result.ok
