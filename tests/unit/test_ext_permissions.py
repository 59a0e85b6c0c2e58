"""The permission guard: workspace-anchored globs, symlinks, scratch folders, names, audit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.extensions.manifest import FsPermissions, Permissions
from engine.extensions.permissions import PermissionGuard, compile_globs
from engine.types.errors import PermissionDenied

EXT = "acme.lint"

AuditCall = tuple[str, str, str, str, str]


class Audit:
    """Collects audit calls."""

    def __init__(self) -> None:
        self.calls: list[AuditCall] = []

    def __call__(
        self, extension: str, permission: str, target: str, decision: Any, detail: str
    ) -> None:
        self.calls.append((extension, permission, target, decision, detail))

    def take(self) -> list[AuditCall]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for rel in (
        "a.toml",
        "sub/a.toml",
        "x.py",
        "a/b/c.py",
        "src/main.rs",
        "src/secret/key",
        "docs/x.md",
    ):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(rel, encoding="utf-8")
    (tmp_path / "outside.txt").write_text("secret", encoding="utf-8")
    return ws


@pytest.fixture
def audit() -> Audit:
    return Audit()


def guard(
    workspace: Path,
    audit: Audit,
    *,
    read: list[str] | None = None,
    write: list[str] | None = None,
    process: list[str] | None = None,
    env: list[str] | None = None,
    network: list[str] | None = None,
    models: list[str] | None = None,
    scratch: tuple[Path, ...] = (),
) -> PermissionGuard:
    perms = Permissions(
        fs=FsPermissions(read=read or [], write=write or []),
        process=process or [],
        env=env or [],
        network=network or [],
        models=models or [],
    )
    return PermissionGuard(EXT, perms, workspace, audit, scratch=scratch)


def allowed(g: PermissionGuard, permission: Any, path: str | Path) -> bool:
    try:
        g.path(permission, path)
    except PermissionDenied:
        return False
    return True


# --- globs ----------------------------------------------------------------------------------------


def test_compile_globs_empty_is_none() -> None:
    assert compile_globs([]) is None


@pytest.mark.parametrize(
    ("patterns", "rel", "expected"),
    [
        (["*.toml"], "a.toml", True),
        (["*.toml"], "sub/a.toml", False),
        (["**/*.py"], "x.py", True),
        (["**/*.py"], "a/b/c.py", True),
        (["**/*.py"], "a/b/c.rs", False),
        (["src/**"], "src/main.rs", True),
        (["src/**"], "src/secret/key", True),
        (["src/**"], "lib/src/main.rs", False),
        (["src"], "src/main.rs", True),
        (["src"], "src", True),
        (["src"], "lib/src", False),
        (["src/**", "!src/secret/**"], "src/main.rs", True),
        (["src/**", "!src/secret/**"], "src/secret/key", False),
        (["**"], "a/b/c/d", True),
        (["**"], ".hidden/file", True),
    ],
)
def test_compile_globs_anchored(patterns: list[str], rel: str, expected: bool) -> None:
    spec = compile_globs(patterns)
    assert spec is not None
    assert spec.match_file(rel) is expected


def test_root_glob_only_at_root(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["*.toml"])
    assert g.path("fs.read", "a.toml") == (workspace / "a.toml").resolve()
    assert not allowed(g, "fs.read", "sub/a.toml")


def test_any_depth_glob(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["**/*.py"])
    assert allowed(g, "fs.read", "x.py")
    assert allowed(g, "fs.read", "a/b/c.py")
    assert not allowed(g, "fs.read", "a.toml")


@pytest.mark.parametrize("pattern", ["src/**", "src"])
def test_folder_grant_covers_its_contents(workspace: Path, audit: Audit, pattern: str) -> None:
    g = guard(workspace, audit, read=[pattern])
    assert allowed(g, "fs.read", "src/main.rs")
    assert allowed(g, "fs.read", "src/secret/key")
    assert allowed(g, "fs.read", "src/not-yet-created.txt")
    assert not allowed(g, "fs.read", "docs/x.md")
    assert not allowed(g, "fs.read", "a.toml")


@pytest.mark.parametrize("pattern", ["src/**", "src"])
def test_folder_grant_covers_the_folder_itself(workspace: Path, audit: Audit, pattern: str) -> None:
    # The module docstring: "``src/**`` or ``src`` a folder". A process started with cwd="src"
    # (context.run checks cwd with fs.read) or ws.exists("src") must work with either grant.
    g = guard(workspace, audit, read=[pattern])
    assert allowed(g, "fs.read", "src")


def test_negation(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["src/**", "!src/secret/**"])
    assert allowed(g, "fs.read", "src/main.rs")
    assert not allowed(g, "fs.read", "src/secret/key")
    assert g.can("fs.read", "src/main.rs")
    assert not g.can("fs.read", "src/secret/key")


def test_double_star_grants_whole_workspace(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["**"])
    for rel in ("a.toml", "sub/a.toml", "a/b/c.py", "src/secret/key", "docs", "new/file"):
        assert allowed(g, "fs.read", rel), rel
    assert g.path("fs.read", ".") == workspace.resolve()
    assert g.path("fs.read", workspace / "a.toml") == (workspace / "a.toml").resolve()


def test_workspace_root_needs_some_grant(workspace: Path, audit: Audit) -> None:
    assert not allowed(guard(workspace, audit), "fs.read", ".")
    assert allowed(guard(workspace, audit, read=["docs/**"]), "fs.read", ".")


@pytest.mark.parametrize(
    "target", ["../outside.txt", "../ws/../outside.txt", "src/../../outside.txt"]
)
def test_relative_escape_denied_even_with_everything(
    workspace: Path, audit: Audit, target: str
) -> None:
    g = guard(workspace, audit, read=["**"], write=["**"])
    for permission in ("fs.read", "fs.write"):
        with pytest.raises(PermissionDenied) as info:
            g.path(permission, target)
        assert info.value.target == target
        assert "outside the workspace" in str(info.value)


def test_absolute_outside_denied(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["**"])
    outside = workspace.parent / "outside.txt"
    assert not allowed(g, "fs.read", outside)
    assert not allowed(g, "fs.read", "/etc/passwd")
    assert not allowed(g, "fs.read", "/")


def test_sibling_with_common_prefix_is_outside(workspace: Path, audit: Audit) -> None:
    sibling = workspace.parent / (workspace.name + "2")
    sibling.mkdir()
    (sibling / "f").write_text("x", encoding="utf-8")
    assert not allowed(guard(workspace, audit, read=["**"]), "fs.read", sibling / "f")


def test_symlink_pointing_outside_denied(workspace: Path, audit: Audit) -> None:
    (workspace / "link.txt").symlink_to(workspace.parent / "outside.txt")
    (workspace / "linkdir").symlink_to(workspace.parent)
    g = guard(workspace, audit, read=["**"], write=["**"])
    assert not allowed(g, "fs.read", "link.txt")
    assert not allowed(g, "fs.write", "link.txt")
    assert not allowed(g, "fs.read", "linkdir/outside.txt")
    assert not allowed(g, "fs.read", "linkdir")


def test_symlink_pointing_inside_allowed(workspace: Path, audit: Audit) -> None:
    (workspace / "alias.toml").symlink_to(workspace / "src" / "main.rs")
    (workspace / "srclink").symlink_to("src", target_is_directory=True)
    g = guard(workspace, audit, read=["**"])
    assert g.path("fs.read", "alias.toml") == (workspace / "src" / "main.rs").resolve()
    assert g.path("fs.read", "srclink/main.rs") == (workspace / "src" / "main.rs").resolve()


def test_symlink_is_checked_against_its_target(workspace: Path, audit: Audit) -> None:
    # A link named like a granted file cannot open an ungranted one.
    (workspace / "b.toml").symlink_to(workspace / "src" / "secret" / "key")
    g = guard(workspace, audit, read=["*.toml"])
    assert not allowed(g, "fs.read", "b.toml")


def test_workspace_given_through_a_symlink(tmp_path: Path, workspace: Path, audit: Audit) -> None:
    link = tmp_path / "ws-link"
    link.symlink_to(workspace, target_is_directory=True)
    g = guard(link, audit, read=["*.toml"])
    assert g.workspace == workspace.resolve()
    assert allowed(g, "fs.read", "a.toml")
    assert allowed(g, "fs.read", link / "a.toml")
    assert not allowed(g, "fs.read", link / "sub" / "a.toml")


def test_scratch_folders(tmp_path: Path, workspace: Path, audit: Audit) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    later = tmp_path / "later"
    later.mkdir()
    g = guard(workspace, audit, scratch=(scratch,))
    assert g.path("fs.read", scratch / "f") == (scratch / "f").resolve()
    assert g.path("fs.write", scratch / "deep" / "f") == (scratch / "deep" / "f").resolve()
    assert audit.take()[-1] == (
        EXT,
        "fs.write",
        str(scratch / "deep" / "f"),
        "allowed",
        "scratch folder",
    )
    assert not allowed(g, "fs.write", later / "f")
    g.add_scratch(later)
    assert allowed(g, "fs.write", later / "f")
    g.remove_scratch(later)
    assert not allowed(g, "fs.write", later / "f")
    g.remove_scratch(later)  # removing twice is harmless
    g.remove_scratch(scratch)
    assert not allowed(g, "fs.read", scratch / "f")


def test_read_and_write_grants_are_separate(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["src/**"], write=["docs/**"])
    assert allowed(g, "fs.read", "src/main.rs")
    assert not allowed(g, "fs.write", "src/main.rs")
    assert allowed(g, "fs.write", "docs/x.md")
    assert not allowed(g, "fs.read", "docs/x.md")
    assert g.can("fs.read", "src/main.rs")
    assert not g.can("fs.write", "src/main.rs")
    assert not guard(workspace, audit, read=["**"]).can("fs.write", "a.toml")


def test_can_does_not_audit(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["**"])
    assert g.can("fs.read", "a.toml")
    assert audit.calls == []


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "argv", "expected"),
    [
        (["git"], ["git", "status"], True),
        (["git"], ["/usr/bin/git", "status"], True),
        (["git"], ["gitk"], False),
        (["git"], ["/usr/bin/gitk"], False),
        (["git"], ["/opt/git/bin/hg"], False),
        (["python*"], ["python3", "-V"], True),
        (["python*"], ["/usr/bin/python3.11"], True),
        (["python*"], ["ipython"], False),
        (["*"], ["anything", "--at", "all"], True),
        ([], ["git"], False),
    ],
)
def test_process(
    workspace: Path, audit: Audit, granted: list[str], argv: list[str], expected: bool
) -> None:
    g = guard(workspace, audit, process=granted)
    if expected:
        g.process(argv)
    else:
        with pytest.raises(PermissionDenied) as info:
            g.process(argv)
        assert info.value.permission == "process"
        assert info.value.target == " ".join(argv)
    assert audit.calls == [
        (EXT, "process", " ".join(argv), "allowed" if expected else "denied", audit.calls[0][4])
    ]


def test_empty_argv_is_value_error(workspace: Path, audit: Audit) -> None:
    with pytest.raises(ValueError, match="empty"):
        guard(workspace, audit, process=["*"]).process([])


@pytest.mark.parametrize(
    ("granted", "name", "expected"),
    [
        (["HOME"], "HOME", True),
        (["HOME"], "HOMEPATH", False),
        (["HOME"], "home", False),
        (["PYTEST_*"], "PYTEST_ADDOPTS", True),
        (["PYTEST_*"], "PYTHONPATH", False),
        (["*"], "AWS_SECRET_ACCESS_KEY", True),
        ([], "HOME", False),
    ],
)
def test_env(workspace: Path, audit: Audit, granted: list[str], name: str, expected: bool) -> None:
    g = guard(workspace, audit, env=granted)
    assert g.may_read_env(name) is expected
    assert audit.calls == []
    if expected:
        g.env(name)
    else:
        with pytest.raises(PermissionDenied):
            g.env(name)
    assert [c[:4] for c in audit.calls] == [(EXT, "env", name, "allowed" if expected else "denied")]


@pytest.mark.parametrize(
    ("granted", "host", "expected"),
    [
        (["api.example.com"], "api.example.com", True),
        (["api.example.com"], "API.Example.COM", True),
        (["api.example.com"], "api.example.org", False),
        (["*.example.com"], "a.example.com", True),
        (["*.example.com"], "A.B.EXAMPLE.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "evil-example.com", False),
        (["*"], "anything.test", True),
        ([], "example.com", False),
    ],
)
def test_network(
    workspace: Path, audit: Audit, granted: list[str], host: str, expected: bool
) -> None:
    g = guard(workspace, audit, network=granted)
    if expected:
        g.network(host)
    else:
        with pytest.raises(PermissionDenied):
            g.network(host)
    assert [c[:4] for c in audit.calls] == [
        (EXT, "network", host, "allowed" if expected else "denied")
    ]


@pytest.mark.parametrize("pattern", ["API.Example.com", "*.EXAMPLE.COM"])
def test_network_grant_is_case_insensitive(workspace: Path, audit: Audit, pattern: str) -> None:
    # Host names are case-insensitive; the host is lowered but a mixed-case grant is not.
    guard(workspace, audit, network=[pattern]).network("api.example.com")


@pytest.mark.parametrize(
    ("granted", "name", "expected"),
    [
        (["claude"], "claude", True),
        (["claude"], "claude-big", False),
        (["claude*"], "claude-big", True),
        (["*"], "local", True),
        ([], "claude", False),
    ],
)
def test_models(
    workspace: Path, audit: Audit, granted: list[str], name: str, expected: bool
) -> None:
    g = guard(workspace, audit, models=granted)
    if expected:
        g.model(name)
    else:
        with pytest.raises(PermissionDenied) as info:
            g.model(name)
        assert info.value.permission == "models"
    assert [c[:4] for c in audit.calls] == [
        (EXT, "models", name, "allowed" if expected else "denied")
    ]


# --- audit and denials ----------------------------------------------------------------------------


def test_every_check_is_audited_once(tmp_path: Path, workspace: Path, audit: Audit) -> None:
    scratch = tmp_path / "scratch"
    g = guard(
        workspace,
        audit,
        read=["src/**"],
        write=["docs/**"],
        process=["git"],
        env=["HOME"],
        network=["example.com"],
        models=["claude"],
        scratch=(scratch,),
    )
    checks: list[tuple[str, str, str, Any]] = [
        ("fs.read", "src/main.rs", "allowed", lambda: g.path("fs.read", "src/main.rs")),
        ("fs.read", "a.toml", "denied", lambda: g.path("fs.read", "a.toml")),
        ("fs.read", "../outside.txt", "denied", lambda: g.path("fs.read", "../outside.txt")),
        ("fs.write", "docs/x.md", "allowed", lambda: g.path("fs.write", "docs/x.md")),
        ("fs.write", "src/main.rs", "denied", lambda: g.path("fs.write", "src/main.rs")),
        ("fs.write", str(scratch / "f"), "allowed", lambda: g.path("fs.write", scratch / "f")),
        ("process", "git log", "allowed", lambda: g.process(["git", "log"])),
        ("process", "rm -rf /", "denied", lambda: g.process(["rm", "-rf", "/"])),
        ("env", "HOME", "allowed", lambda: g.env("HOME")),
        ("env", "TOKEN", "denied", lambda: g.env("TOKEN")),
        ("network", "example.com", "allowed", lambda: g.network("example.com")),
        ("network", "evil.test", "denied", lambda: g.network("evil.test")),
        ("models", "claude", "allowed", lambda: g.model("claude")),
        ("models", "gpt", "denied", lambda: g.model("gpt")),
        ("artifacts.get", "sha256:abc", "allowed", lambda: g.record("artifacts.get", "sha256:abc")),
    ]
    for permission, target, decision, check in checks:
        if decision == "denied":
            with pytest.raises(PermissionDenied):
                check()
        else:
            check()
        calls = audit.take()
        assert len(calls) == 1, (permission, target, calls)
        assert calls[0][:4] == (EXT, permission, target, decision)
    g.record("progress", "50%", "half way")
    assert audit.take() == [(EXT, "progress", "50%", "allowed", "half way")]


def test_denial_message(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["src/**", "docs/**"])
    with pytest.raises(PermissionDenied) as info:
        g.path("fs.read", "a.toml")
    err = info.value
    assert (err.extension, err.permission, err.target) == (EXT, "fs.read", "a.toml")
    message = str(err)
    assert EXT in message
    assert "fs.read" in message
    assert "'a.toml'" in message
    assert "granted: src/**, docs/**" in message
    assert audit.calls == [(EXT, "fs.read", "a.toml", "denied", "granted: src/**, docs/**")]


def test_denial_message_when_nothing_granted(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit)
    with pytest.raises(PermissionDenied) as info:
        g.process(["git", "status"])
    assert info.value.target == "git status"
    assert "nothing granted" in str(info.value)
    with pytest.raises(PermissionDenied, match=r"granted: HOME, PATH"):
        guard(workspace, audit, env=["HOME", "PATH"]).env("TOKEN")


def test_denied_path_target_is_workspace_relative(workspace: Path, audit: Audit) -> None:
    g = guard(workspace, audit, read=["docs/**"])
    with pytest.raises(PermissionDenied) as info:
        g.path("fs.read", workspace / "src" / "main.rs")
    assert info.value.target == "src/main.rs"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("/etc/**", "is absolute"),
        ("../outside/**", "leaves the workspace"),
        ("src/../../x", "leaves the workspace"),
        ("src\\lib", "use '/' between folders"),
        ("[abc", "unclosed '['"),
    ],
)
def test_globs_that_could_escape_or_are_malformed_are_refused(pattern: str, reason: str) -> None:
    from engine.files.globs import GlobError, compile_globs

    with pytest.raises(GlobError, match=re.escape(reason)):
        compile_globs([pattern])


@pytest.mark.parametrize("pattern", ["*.md", "**/*.txt", "x.*"])
def test_a_wildcard_pattern_never_grants_a_folders_contents(
    workspace: Path, audit: Audit, pattern: str
) -> None:
    """`*.md` means Markdown files, not everything inside a folder named `notes.md`."""
    (workspace / "notes.md").mkdir()
    (workspace / "notes.md" / "private.key").write_text("KEY")
    (workspace / "x.txt").mkdir()
    (workspace / "x.txt" / "id_rsa").write_text("RSA")
    g = guard(workspace, audit, read=[pattern])
    assert not allowed(g, "fs.read", "notes.md/private.key")
    assert not allowed(g, "fs.read", "x.txt/id_rsa")
