"""``ruff.check`` on real projects: the real manifest and the real ruff."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.extensions.discovery import builtin_root
from engine.types.errors import ExtensionError, PermissionDenied
from extensions.ruff_check import ruff_command
from symphony_sdk.testing import ExtensionHarness

if TYPE_CHECKING:
    from collections.abc import Iterator

PROJECT = {
    "app/a.py": "import os\n\nVALUE = 1\n",
    "app/b.py": "def f():\n    return missing_name\n",
    "app/clean.py": "VALUE = 2\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    for name, text in PROJECT.items():
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return workspace


@pytest.fixture
def harness(ws: Path) -> Iterator[ExtensionHarness]:
    with ExtensionHarness(builtin_root() / "ruff_check", ws) as h:
        assert h.status.state != "failed", h.status.reason
        yield h


def test_reports_each_diagnostic_with_a_workspace_relative_path(
    ws: Path, harness: ExtensionHarness
) -> None:
    out = harness.call("ruff.check")
    assert out["status"] == "issues"
    assert out["exit_code"] == 1
    assert out["count"] == 2
    assert out["fixable"] == 1
    assert out["by_code"] == {"F401": 1, "F821": 1}
    unused, undefined = sorted(out["diagnostics"], key=lambda d: d["path"])
    assert unused == {
        "code": "F401",
        "message": "`os` imported but unused",
        "path": "app/a.py",
        "line": 1,
        "column": 8,
        "end_line": 1,
        "end_column": 10,
        "fixable": True,
        "url": "https://docs.astral.sh/ruff/rules/unused-import",
    }
    assert undefined["code"] == "F821"
    assert undefined["path"] == "app/b.py"
    assert (undefined["line"], undefined["column"], undefined["fixable"]) == (2, 12, False)
    lines = out["report"].splitlines()
    assert "app/a.py:1:8: F401 [*] `os` imported but unused" in lines
    assert "app/b.py:2:12: F821 Undefined name `missing_name`" in lines
    assert lines[-1] == "Found 2 issues (1 fixable with fix=true, marked [*])."
    assert not (ws / ".ruff_cache").exists()  # a check leaves the workspace as it was


def test_select_ignore_and_paths_narrow_the_check(harness: ExtensionHarness) -> None:
    assert harness.call("ruff.check", select=["F821"])["by_code"] == {"F821": 1}
    assert harness.call("ruff.check", ignore=["F821"])["by_code"] == {"F401": 1}
    assert harness.call("ruff.check", paths=["app/a.py"])["by_code"] == {"F401": 1}
    clean = harness.call("ruff.check", paths=["app/clean.py"])
    assert clean["status"] == "clean"
    assert (clean["count"], clean["exit_code"], clean["diagnostics"]) == (0, 0, [])
    assert clean["report"] == "All checks passed!\n"


def test_fix_rewrites_the_files_and_reports_what_remains(
    ws: Path, harness: ExtensionHarness
) -> None:
    out = harness.call("ruff.check", fix=True)
    assert "import os" not in (ws / "app" / "a.py").read_text(encoding="utf-8")
    assert "VALUE = 1" in (ws / "app" / "a.py").read_text(encoding="utf-8")
    assert out["by_code"] == {"F821": 1}
    assert out["status"] == "issues"


def test_check_fails_the_step_listing_the_diagnostics(harness: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match=r"ruff found 2 issue\(s\): app/a\.py:1:8: F401"):
        harness.call("ruff.check", check=True)
    assert harness.call("ruff.check", paths=["app/clean.py"], check=True)["status"] == "clean"


def test_a_ruff_error_fails_the_step_with_ruff_s_message(harness: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match=r"exit status 2\).*Unknown rule selector `NOPE`"):
        harness.call("ruff.check", select=["NOPE"])


def test_paths_outside_the_workspace_are_denied_and_audited(
    ws: Path, harness: ExtensionHarness
) -> None:
    (ws.parent / "outside.py").write_text("import os\n", encoding="utf-8")
    with pytest.raises(PermissionDenied):
        harness.call("ruff.check", paths=["../outside.py"])
    denied = harness.audit(denied_only=True)
    assert [(r.permission, r.target) for r in denied] == [("fs.read", "../outside.py")]


def test_ruff_is_found_on_path_then_beside_python(tmp_path: Path) -> None:
    assert ruff_command("ruff", None, tmp_path) == ["ruff"]
    assert ruff_command("tools/ruff", None, tmp_path) == [str(tmp_path / "tools" / "ruff")]
    real = Path(sys.executable).parent / "ruff"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ruff").symlink_to(real)
    assert ruff_command(None, os.pathsep.join(["/nonexistent", str(bin_dir)]), tmp_path) == [
        str(bin_dir / "ruff")
    ]
    # This venv has ruff beside its python.
    assert ruff_command(None, "/nonexistent", tmp_path) == [str(real)]
