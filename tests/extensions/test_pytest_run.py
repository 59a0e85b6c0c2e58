"""``pytest.run`` on real projects: the real manifest and a real pytest in a subprocess."""

from __future__ import annotations

import re
import sys
import time
from typing import TYPE_CHECKING

import pytest

from engine.extensions.discovery import builtin_root
from engine.types.errors import ExtensionError, PermissionDenied
from extensions.pytest_run import default_python
from symphony_sdk.testing import ExtensionHarness

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MIXED = """
import os

import pytest


def test_passes():
    pass


def test_fails():
    print("captured line")
    assert 1 == 2, "numbers differ"


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_errors(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="maybe fixed")
def test_xpass():
    pass


def test_sees_env():
    assert os.environ.get("SYMPHONY_TEST_FLAG") == "on"
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture
def harness(ws: Path) -> Iterator[ExtensionHarness]:
    with ExtensionHarness(builtin_root() / "pytest_run", ws) as h:
        assert h.status.state != "failed", h.status.reason
        yield h


def test_reports_every_outcome_with_node_ids_and_failure_text(
    ws: Path, harness: ExtensionHarness
) -> None:
    write(ws, {"tests/test_a.py": MIXED})
    progress: list[tuple[float | None, str]] = []
    out = harness.outcome(
        "pytest.run",
        {"python": sys.executable, "env": {"SYMPHONY_TEST_FLAG": "on"}},
        progress=lambda fraction, message: progress.append((fraction, message)),
    ).outputs

    assert out["status"] == "failed"
    assert out["exit_code"] == 1
    counts = {k: out[k] for k in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")}
    assert counts == {
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "skipped": 1,
        "xfailed": 1,
        "xpassed": 1,
    }
    outcomes = {t["nodeid"]: t["outcome"] for t in out["tests"]}
    assert outcomes == {
        "tests/test_a.py::test_passes": "passed",
        "tests/test_a.py::test_fails": "failed",
        "tests/test_a.py::test_errors": "error",
        "tests/test_a.py::test_skipped": "skipped",
        "tests/test_a.py::test_xfail": "xfailed",
        "tests/test_a.py::test_xpass": "xpassed",
        "tests/test_a.py::test_sees_env": "passed",
    }
    by_id = {t["nodeid"]: t for t in out["tests"]}
    assert by_id["tests/test_a.py::test_skipped"]["message"] == "Skipped: not today"
    assert by_id["tests/test_a.py::test_xfail"]["message"] == "xfail: known bug"

    failures = {f["nodeid"]: f for f in out["failures"]}
    assert list(failures) == ["tests/test_a.py::test_fails", "tests/test_a.py::test_errors"]
    failed = failures["tests/test_a.py::test_fails"]["message"]
    assert "AssertionError: numbers differ" in failed
    assert "captured line" in failed  # captured output comes with the failure
    assert "fixture exploded" in failures["tests/test_a.py::test_errors"]["message"]

    assert re.fullmatch(
        r"1 failed, 2 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error in \d+\.\d\ds",
        out["summary"],
    )
    report = out["report"]
    assert report.startswith(f"pytest: failed (exit code 1): {out['summary']}\n")
    assert "===== FAILED tests/test_a.py::test_fails =====" in report
    assert "===== ERROR tests/test_a.py::test_errors =====" in report
    assert "numbers differ" in report
    assert "test_passes" not in report
    assert "1 failed" in out["output"]  # pytest's own summary, at the end of its output
    assert progress[-1] == (1.0, out["summary"])


def test_node_ids_are_relative_to_the_workspace_whatever_pytest_s_rootdir(
    ws: Path, harness: ExtensionHarness
) -> None:
    # sub/ has its own pytest.ini, so pytest's rootdir (and its node ids) start there.
    write(
        ws,
        {
            "sub/pytest.ini": "[pytest]\n",
            "sub/tests/test_b.py": "def test_one():\n    pass\n\ndef test_two():\n    pass\n",
        },
    )
    out = harness.call("pytest.run", paths=["sub/tests/test_b.py::test_two"])
    assert out["status"] == "passed"
    assert [t["nodeid"] for t in out["tests"]] == ["sub/tests/test_b.py::test_two"]
    assert out["report"].startswith("pytest: passed (exit code 0): 1 passed in ")


def test_a_file_that_fails_to_collect_is_an_error_entry(
    ws: Path, harness: ExtensionHarness
) -> None:
    write(
        ws,
        {
            "tests/test_ok.py": "def test_ok():\n    pass\n",
            "tests/test_broken.py": "def test_broken(:\n    pass\n",
        },
    )
    out = harness.call("pytest.run", paths=["tests"])
    assert out["status"] == "error"
    assert out["exit_code"] == 2  # pytest stops before running anything
    assert out["errors"] == 1
    assert out["passed"] == 0
    [failure] = out["failures"]
    assert failure["nodeid"] == "tests/test_broken.py"
    assert failure["outcome"] == "error"
    assert "SyntaxError" in failure["message"]
    assert "===== ERROR tests/test_broken.py =====" in out["report"]
    assert out["summary"].endswith("(interrupted)")


def test_check_fails_the_step_naming_the_failing_tests(ws: Path, harness: ExtensionHarness) -> None:
    write(
        ws,
        {
            "tests/test_a.py": "def test_fails():\n    assert 1 == 2, 'numbers differ'\n",
            "tests/test_b.py": "def test_ok():\n    pass\n",
        },
    )
    with pytest.raises(ExtensionError, match=r"pytest failed \(1 failed.*\): tests/test_a\.py::"):
        harness.call("pytest.run", check=True)
    out = harness.call("pytest.run", paths=["tests/test_b.py"], check=True)
    assert out["status"] == "passed"


def test_a_run_past_its_timeout_fails_the_step_naming_the_running_test(
    ws: Path, harness: ExtensionHarness
) -> None:
    write(
        ws,
        {
            "tests/test_slow.py": (
                "import time\n\ndef test_quick():\n    pass\n\n"
                "def test_sleeps():\n    time.sleep(30)\n"
            )
        },
    )
    started = time.monotonic()
    with pytest.raises(
        ExtensionError,
        match=r"timed out after 5 s while running tests/test_slow\.py::test_sleeps"
        r" \(1 of 2 tests finished\)",
    ):
        # 5 s: pytest must start, load its plugins and reach test_sleeps first (~0.5 s idle)
        harness.call("pytest.run", timeout_s=5)
    assert time.monotonic() - started < 20  # not the test's 30 s


def test_no_tests_is_its_own_status(ws: Path, harness: ExtensionHarness) -> None:
    write(ws, {"tests/test_empty.py": "VALUE = 1\n"})
    out = harness.call("pytest.run")
    assert out["status"] == "no_tests"
    assert out["exit_code"] == 5
    assert out["tests"] == []
    assert out["summary"].startswith("no tests ran in ")


def test_usage_errors_are_reported_with_pytest_s_message(
    ws: Path, harness: ExtensionHarness
) -> None:
    out = harness.call("pytest.run", args=["--no-such-option"])
    assert out["status"] == "error"
    assert out["exit_code"] == 4
    assert "unrecognized arguments: --no-such-option" in out["report"]
    with pytest.raises(ExtensionError, match="cannot start /nonexistent/python"):
        harness.call("pytest.run", python="/nonexistent/python")
    with pytest.raises(ExtensionError, match="looks like an option"):
        harness.call("pytest.run", paths=["-x"])


def test_paths_outside_the_workspace_are_denied_and_audited(
    ws: Path, harness: ExtensionHarness
) -> None:
    write(ws.parent, {"outside/test_x.py": "def test_x():\n    pass\n"})
    with pytest.raises(PermissionDenied):
        harness.call("pytest.run", paths=["../outside/test_x.py::test_x"])
    denied = harness.audit(denied_only=True)
    assert [(r.permission, r.target) for r in denied] == [("fs.read", "../outside/test_x.py")]


def test_default_interpreter_is_the_workspace_venv_when_there_is_one(tmp_path: Path) -> None:
    assert default_python(tmp_path) == sys.executable
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    # The link itself, not its target: only that path makes Python use the venv.
    assert default_python(tmp_path) == str(venv_python)
