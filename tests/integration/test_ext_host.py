"""Extensions in their own process: same behaviour, contained crashes, hangs and limits, and a
sandbox that stops direct access outside the grant. Real host processes, real sockets."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.extensions.discovery import discover
from engine.extensions.host import sandbox_problem
from engine.extensions.host.supervisor import HostedExtension
from engine.extensions.lifecycle import State
from engine.extensions.manager import ExtensionManager
from engine.extensions.store import ExtensionsDB
from engine.types.errors import ExtensionError, PermissionDenied
from tests.ext_support import write_extension

STEPS = """
[[contributes.steps]]
type = "{p}.pid"
[contributes.steps.outputs]
pid = {{ type = "integer" }}

[[contributes.steps]]
type = "{p}.work"
[contributes.steps.inputs]
mode = {{ type = "string", required = true }}
path = {{ type = "string" }}
[contributes.steps.outputs]
text = {{ type = "string" }}
"""

BODY = """
import os, time

class Ext(Operator):
    def activate(self, ctx):
        self.ctx = ctx

    @step("{p}.pid")
    def pid(self, ctx, inputs):
        return {{"pid": os.getpid()}}

    @step("{p}.work")
    def work(self, ctx, inputs):
        mode = inputs["mode"]
        if mode == "crash":
            os._exit(3)
        if mode == "hang":
            while True:
                time.sleep(0.1)
        if mode == "api-read":
            return {{"text": ctx.fs.read_text(inputs["path"])}}
        if mode == "direct-read":
            with open(inputs["path"], encoding="utf-8") as f:
                return {{"text": f.read()}}
        if mode == "memory":
            block = bytearray(400 * 1024 * 1024)
            return {{"text": str(len(block))}}
        if mode == "run":
            seen = []
            result = ctx.run(
                ["sh", "-c", "echo one; echo two"], on_output=lambda s, t: seen.append(t)
            )
            return {{"text": result.stdout + "|" + "".join(seen)}}
        if mode == "artifact":
            ref = ctx.artifacts.put_bytes(b"kept", name="probe")
            return {{"text": ctx.artifacts.get_bytes(ref.hash).decode()}}
        if mode == "big":
            ctx.fs.write_bytes("big.bin", b"x" * 3_000_000)
            return {{"text": str(len(ctx.fs.read_bytes("big.bin")))}}
        if mode == "scratch":
            path = ctx.scratch / "note.txt"
            path.write_text("in scratch")
            ctx.progress(0.5, "half")
            return {{"text": path.read_text() + "|" + str(path.parent)}}
        raise ValueError("unknown mode " + mode)
"""


class Env:
    def __init__(self, tmp: Path) -> None:
        self.workspace = tmp / "ws"
        (self.workspace / "src").mkdir(parents=True)
        (self.workspace / "src" / "a.txt").write_text("granted")
        (self.workspace / "secret.txt").write_text("workspace secret")
        self.ext_dir = tmp / "third-party"
        self.ext_dir.mkdir()
        self.db = ExtensionsDB(tmp / "data" / "extensions.db")
        self.managers: list[ExtensionManager] = []

    def extension(self, ext_id: str, *, runtime: str = "", permissions: str = "") -> str:
        prefix = ext_id.replace(".", "_")
        write_extension(
            self.ext_dir,
            ext_id,
            BODY.format(p=prefix),
            steps=STEPS.format(p=prefix),
            runtime=runtime,
            permissions=permissions
            or 'fs = { read = ["src/**", "big.bin"], write = ["big.bin"] }\nprocess = ["sh"]',
        )
        return prefix

    def manager(self, **kwargs: Any) -> ExtensionManager:
        from engine.pit.artifacts.store import ArtifactStore

        store = ArtifactStore(self.workspace.parent / "artifacts")
        manager = ExtensionManager(
            self.workspace,
            discover([self.ext_dir], builtin=False, packages=False),
            db=self.db,
            store=lambda: store,
            **kwargs,
        )
        self.managers.append(manager)
        manager.start()
        return manager


@pytest.fixture
def env(tmp_path: Path) -> Any:
    environment = Env(tmp_path)
    yield environment
    for manager in environment.managers:
        manager.stop()
    environment.db.close()


def hosted(manager: ExtensionManager, ext_id: str) -> HostedExtension:
    instance = manager._records[ext_id].instance
    assert isinstance(instance, HostedExtension)
    return instance


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_third_party_extension_runs_in_its_own_process_and_behaves_the_same(env: Env) -> None:
    p = env.extension("acme.probe")
    manager = env.manager()
    assert manager.status("acme.probe").isolation == "process"
    manager.call(f"{p}.pid", {})
    assert hosted(manager, "acme.probe").pid not in (None, os.getpid())
    work = f"{p}.work"
    assert manager.call(work, {"mode": "api-read", "path": "src/a.txt"}).outputs == {
        "text": "granted"
    }
    with pytest.raises(PermissionDenied) as denied:
        manager.call(work, {"mode": "api-read", "path": "secret.txt"})
    assert (denied.value.extension, denied.value.permission) == ("acme.probe", "fs.read")
    assert manager.call(work, {"mode": "run"}).outputs == {"text": "one\ntwo\n|one\ntwo\n"}
    assert manager.call(work, {"mode": "artifact"}).outputs == {"text": "kept"}
    assert manager.call(work, {"mode": "big"}).outputs == {"text": "3000000"}
    progress: list[tuple[float | None, str]] = []
    text = manager.call(
        work, {"mode": "scratch"}, progress=lambda f, m: progress.append((f, m))
    ).outputs["text"]
    note, folder = text.split("|")
    assert note == "in scratch" and not Path(folder).exists()  # removed after the call
    assert progress == [(0.5, "half")]
    with pytest.raises(ExtensionError, match=r"failed: ValueError: unknown mode nope"):
        manager.call(work, {"mode": "nope"})
    assert manager.status("acme.probe").state is State.ACTIVE


def test_a_crash_is_reported_restarted_and_disabled_after_repeated_crashes(env: Env) -> None:
    p = env.extension("acme.crashy")
    env.extension("acme.steady")
    manager = env.manager()
    manager.call(f"{p}.pid", {})
    first = hosted(manager, "acme.crashy").pid
    steady = hosted(manager, "acme.steady").pid
    with pytest.raises(ExtensionError, match="exited with status 3"):
        manager.call(f"{p}.work", {"mode": "crash"})
    # Restarted (after a backoff) with a new process; the other extension never noticed.
    manager.call(f"{p}.pid", {})
    second = hosted(manager, "acme.crashy").pid
    assert second not in (None, first) and first is not None and gone(first)
    manager.call("acme_steady.pid", {})
    assert hosted(manager, "acme.steady").pid == steady
    with pytest.raises(ExtensionError, match="exited with status 3"):
        manager.call(f"{p}.work", {"mode": "crash"})
    manager.call(f"{p}.pid", {})
    with pytest.raises(ExtensionError, match="exited with status 3"):
        manager.call(f"{p}.work", {"mode": "crash"})
    with pytest.raises(ExtensionError, match="crashed 3 times"):
        manager.call(f"{p}.pid", {})
    status = manager.status("acme.crashy")
    assert status.state is State.FAILED and "crashed 3 times" in status.reason
    assert manager.call("acme_steady.work", {"mode": "api-read", "path": "src/a.txt"}).outputs


def test_a_hung_step_is_cancelled_then_its_host_killed_and_restarted(env: Env) -> None:
    p = env.extension("acme.hangs", runtime="call_timeout_s = 1")
    manager = env.manager()
    manager.call(f"{p}.pid", {})
    before = hosted(manager, "acme.hangs").pid
    assert before is not None
    t0 = time.monotonic()
    with pytest.raises(ExtensionError, match="timed out after 1 s"):
        manager.call(f"{p}.work", {"mode": "hang"})
    assert time.monotonic() - t0 < 10
    assert gone(before)
    manager.call(f"{p}.pid", {})
    assert hosted(manager, "acme.hangs").pid not in (None, before)


def test_a_hanging_activate_fails_and_its_host_is_ended(env: Env) -> None:
    write_extension(
        env.ext_dir,
        "acme.slow",
        "import time\nclass Ext(Operator):\n    def activate(self, ctx):\n        time.sleep(60)\n",
        activation='["on_startup"]',
        runtime="activation_timeout_s = 0.5",
    )
    manager = env.manager()
    deadline = time.monotonic() + 10
    while manager.status("acme.slow").state is not State.FAILED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while hosted(manager, "acme.slow").pid is not None:  # its host is ended too
        assert time.monotonic() < deadline, "the host of a hung activate is still running"
        time.sleep(0.05)


def test_the_memory_limit_applies_to_the_host(env: Env) -> None:
    p = env.extension("acme.hungry", runtime="memory_mb = 256")
    manager = env.manager()
    with pytest.raises(ExtensionError, match="MemoryError"):
        manager.call(f"{p}.work", {"mode": "memory"})
    assert manager.call(f"{p}.pid", {}).outputs["pid"] > 0  # the host survived it


@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no sandbox: {sandbox_problem()}")
def test_the_sandbox_stops_direct_reads_outside_the_grant(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = env.workspace.parent / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    p = env.extension("acme.snoop")
    manager = env.manager()
    work = f"{p}.work"
    for target in (home / ".ssh" / "id_rsa", env.workspace / "secret.txt"):
        with pytest.raises(ExtensionError, match="FileNotFoundError"):
            manager.call(work, {"mode": "direct-read", "path": str(target)})
    with pytest.raises(PermissionDenied):
        manager.call(work, {"mode": "api-read", "path": str(home / ".ssh" / "id_rsa")})
    # What it is granted still works, through the engine.
    assert manager.call(work, {"mode": "api-read", "path": "src/a.txt"}).outputs["text"]
    assert manager.health().detail["sandbox"] == "bubblewrap"


def test_stopping_the_manager_ends_every_host(env: Env) -> None:
    p = env.extension("acme.one")
    env.extension("acme.two")
    manager = env.manager()
    manager.call(f"{p}.pid", {})
    pid = hosted(manager, "acme.one").pid
    loaded_only = hosted(manager, "acme.two").pid  # loaded, never activated
    assert pid is not None and loaded_only is not None
    manager.stop()
    deadline = time.monotonic() + 5
    while not (gone(pid) and gone(loaded_only)):
        assert time.monotonic() < deadline, "a host outlived its manager"
        time.sleep(0.05)


def test_disabling_ends_the_host_and_enabling_brings_it_back(env: Env) -> None:
    p = env.extension("acme.toggle")
    manager = env.manager()
    pid = hosted(manager, "acme.toggle").pid
    assert pid is not None
    manager.set_enabled("acme.toggle", False)
    assert gone(pid)
    manager.set_enabled("acme.toggle", True)
    assert manager.call(f"{p}.work", {"mode": "api-read", "path": "src/a.txt"}).outputs == {
        "text": "granted"
    }
