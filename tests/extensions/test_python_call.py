"""The built-in ``python.call`` operator: real interpreters, real workspace modules."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extensions.discovery import builtin_root
from engine.types.errors import ExtensionError, PermissionDenied
from symphony_sdk.testing import ExtensionHarness

MODULE = """\
import json
import os
import sys
import time


def add(a, b, *, scale=1):
    print("adding", a, "and", b)
    print("careful", file=sys.stderr)
    return {"sum": (a + b) * scale, "items": [a, b]}


def fail(n):
    return helper(n)


def helper(n):
    raise ValueError(f"bad value {n}")


def make_set():
    return {1, 2}


def sleep(pid_file, seconds):
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)


def leave(code):
    os._exit(code)


def where():
    return {"executable": sys.executable, "cwd": os.getcwd(), "first": sys.path[0]}


class Tools:
    @staticmethod
    def shout(text):
        return text.upper()


VALUE = 42
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "tools.py").write_text(MODULE)
    return folder


@pytest.fixture
def h(ws: Path) -> Iterator[ExtensionHarness]:
    environ = {"PATH": os.environ["PATH"], "HOME": str(ws.parent)}
    with ExtensionHarness(builtin_root() / "python_call", ws, environ=environ) as harness:
        yield harness


def test_calls_a_workspace_function_with_args_and_kwargs(ws: Path, h: ExtensionHarness) -> None:
    out = h.call("python.call", target="pkg.tools:add", args=[2, 3], kwargs={"scale": 10})
    assert out["result"] == {"sum": 50, "items": [2, 3]}
    assert out["stdout"] == "adding 2 and 3\n"
    assert out["stderr"] == "careful\n"
    assert out["duration_s"] > 0
    assert not (ws / "pkg" / "__pycache__").exists()  # no bytecode left in the workspace


def test_dotted_attribute_targets(h: ExtensionHarness) -> None:
    assert h.call("python.call", target="pkg.tools:Tools.shout", args=["hi"])["result"] == "HI"


def test_runs_in_the_workspace_with_it_first_on_sys_path(ws: Path, h: ExtensionHarness) -> None:
    out = h.call("python.call", target="pkg.tools:where")["result"]
    assert out["first"] == str(ws.resolve())
    assert out["cwd"] == str(ws.resolve())
    assert out["executable"] == sys.executable  # no .venv in the workspace


def test_prefers_the_workspaces_virtual_environment(ws: Path, h: ExtensionHarness) -> None:
    venv_bin = ws / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    out = h.call("python.call", target="pkg.tools:where")["result"]
    assert out["executable"] == str(venv_bin / "python")
    [run] = [r for r in h.audit() if r.permission == "process"]
    assert run.target.startswith(str(venv_bin / "python") + " ")


def test_an_exception_is_reported_with_type_message_and_place(h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError) as failed:
        h.call("python.call", target="pkg.tools:fail", args=[7])
    message = str(failed.value)
    assert "pkg.tools:fail raised ValueError: bad value 7 (tools.py:18 in helper)" in message
    cause = str(failed.value.__cause__)
    assert 'tools.py", line 18, in helper' in cause
    assert cause.endswith("ValueError: bad value 7")
    assert "symphony_python_call" not in cause  # the runner's own frames are left out


def test_a_result_json_cannot_hold_is_an_error_naming_its_type(h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="not JSON-serialisable: Object of type set"):
        h.call("python.call", target="pkg.tools:make_set")


def test_missing_module_attribute_or_non_callable(h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match=r"cannot load pkg\.nope:f: ModuleNotFoundError"):
        h.call("python.call", target="pkg.nope:f")
    with pytest.raises(ExtensionError, match="has no attribute 'missing'"):
        h.call("python.call", target="pkg.tools:missing")
    with pytest.raises(ExtensionError, match=r"it is not callable \(int\)"):
        h.call("python.call", target="pkg.tools:VALUE")


@pytest.mark.parametrize("target", ["pkg.tools", "pkg.tools:", ":add", "pkg/tools:add", "a:b:c"])
def test_a_malformed_target_is_refused_before_starting_anything(
    h: ExtensionHarness, target: str
) -> None:
    with pytest.raises(ExtensionError, match=r"target must be 'package\.module:function'"):
        h.call("python.call", target=target)
    assert not [r for r in h.audit() if r.permission == "process"]


def test_a_hang_is_stopped_at_the_timeout(ws: Path, h: ExtensionHarness) -> None:
    pid_file = ws / "pid"
    start = time.monotonic()
    with pytest.raises(ExtensionError, match="did not return within 1 s"):
        h.call("python.call", target="pkg.tools:sleep", args=[str(pid_file), 60], timeout_s=1)
    assert time.monotonic() - start < 10
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_process_that_dies_is_reported(h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="exited with status 3 before it returned"):
        h.call("python.call", target="pkg.tools:leave", args=[3])


def test_an_interpreter_that_does_not_exist(h: ExtensionHarness) -> None:
    with pytest.raises(ExtensionError, match="no Python interpreter at 'env/bin/python'"):
        h.call("python.call", target="pkg.tools:add", args=[1, 2], python="env/bin/python")


def test_only_python_interpreters_may_be_started(h: ExtensionHarness, tmp_path: Path) -> None:
    fake = tmp_path / "ruby"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(PermissionDenied, match="not allowed process"):
        h.call("python.call", target="pkg.tools:add", python=str(fake))
