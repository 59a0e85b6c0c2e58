"""The extension manager with real extension folders, a real registry and real threads."""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from engine.extensions.discovery import discover
from engine.extensions.lifecycle import State
from engine.extensions.manager import ExtensionManager
from engine.extensions.messages import ExtensionStateChanged
from engine.extensions.store import ExtensionsDB
from engine.runtime import Engine
from engine.types.errors import (
    Cancelled,
    ExtensionError,
    PermissionDenied,
    StepInputError,
    UsageError,
)
from tests.ext_support import echo_step, write_extension

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from engine.types.messages import Event

ECHO = """
class Ext(Operator):
    @step("{step}")
    def run(self, ctx, inputs):
        return {{"text": inputs["text"]}}
"""


class Env:
    """A workspace, an extensions folder outside it and a registry file."""

    def __init__(self, tmp: Path) -> None:
        self.workspace = tmp / "ws"
        self.workspace.mkdir()
        self.ext_dir = tmp / "third-party"
        self.ext_dir.mkdir()
        self.db = ExtensionsDB(tmp / "data" / "extensions.db")
        self.events: list[Event] = []
        self.managers: list[ExtensionManager] = []

    def manager(self, **kwargs: Any) -> ExtensionManager:
        manager = ExtensionManager(
            self.workspace,
            discover([self.ext_dir], builtin=False, packages=False),
            db=self.db,
            store=_no_store,
            emit=self.events.append,
            **kwargs,
        )
        self.managers.append(manager)
        manager.start()
        return manager

    def echo(self, ext_id: str, step: str, **kwargs: Any) -> Path:
        return write_extension(
            self.ext_dir, ext_id, ECHO.format(step=step), steps=echo_step(step), **kwargs
        )

    def states(self, ext_id: str) -> list[str]:
        return [
            str(e.state)
            for e in self.events
            if isinstance(e, ExtensionStateChanged) and e.id == ext_id
        ]


def _no_store() -> Any:
    raise AssertionError("these tests never store artifacts")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    for m in e.managers:
        m.stop()
    e.db.close()


def test_third_party_extension_is_discovered_and_runs_with_lazy_activation(env: Env) -> None:
    env.echo("acme.echo", "acme.echo")
    manager = env.manager()
    status = manager.status("acme.echo")
    assert (status.state, status.source, status.enabled) == (State.LOADED, "folder", True)
    assert manager.call("acme.echo", {"text": "hi"}).outputs == {"text": "hi"}
    assert manager.status("acme.echo").state is State.ACTIVE
    assert env.states("acme.echo") == ["installed", "loaded", "activating", "active"]
    assert env.db.registry()["acme.echo"].manifest_hash == status.manifest_hash
    manager.stop()
    assert env.states("acme.echo")[-2:] == ["deactivating", "inactive"]


def test_broken_extensions_fail_with_reasons_and_the_rest_work(env: Env) -> None:
    env.echo("good.one", "good.echo")
    bad = env.ext_dir / "bad.manifest"
    bad.mkdir()
    (bad / "symphony-extension.toml").write_text('[extension]\nid = "Bad"\n', encoding="utf-8")
    write_extension(
        env.ext_dir, "bad.import", "import no_such_module_xyz\nclass Ext(Operator):\n    pass\n"
    )
    write_extension(
        env.ext_dir,
        "bad.raises",
        "class Ext(Operator):\n"
        "    def activate(self, ctx):\n"
        "        raise RuntimeError('no database')\n",
        activation='["on_startup"]',
    )
    write_extension(
        env.ext_dir,
        "bad.missing-step",
        "class Ext(Operator):\n    pass\n",
        steps=echo_step("bad.step"),
    )
    write_extension(
        env.ext_dir,
        "bad.kind",
        "from symphony_sdk import Motif\nclass Ext(Motif):\n    pass\n",
    )
    manager = env.manager()
    by_id = {s.id: s for s in manager.statuses()}
    assert by_id["good.one"].state is State.LOADED
    assert by_id["bad.manifest"].state is State.FAILED
    assert "extension.id" in by_id["bad.manifest"].reason
    assert "ModuleNotFoundError" in by_id["bad.import"].reason
    assert by_id["bad.raises"].reason == "activate: RuntimeError: no database"
    assert "'bad.step' is declared but has no @step method" in by_id["bad.missing-step"].reason
    assert "is a motif but the manifest says operator" in by_id["bad.kind"].reason
    assert manager.call("good.echo", {"text": "still fine"}).outputs == {"text": "still fine"}
    health = manager.health()
    assert health.status == "degraded"
    assert len(health.reasons) == 5
    with pytest.raises(
        UsageError, match=re.escape("no enabled extension offers step type 'bad.step'")
    ):
        manager.call("bad.step", {"text": "x"})


def test_a_hanging_activate_fails_after_the_timeout_without_delaying_start_up(env: Env) -> None:
    release = threading.Event()
    hang = """
import threading, time
class Ext(Operator):
    def activate(self, ctx):
        time.sleep(3)
    def deactivate(self):
        type(self).deactivated = True
"""
    # In-process: the late activate's effect is visible here (hosted: see test_ext_host.py).
    folder = write_extension(
        env.ext_dir,
        "slow.start",
        hang,
        activation='["on_startup"]',
        runtime='isolation = "in-process"',
    )
    env.echo("quick.one", "quick.echo", activation='["on_startup"]')
    t0 = time.monotonic()
    manager = env.manager(activation_timeout_s=0.5)
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0, f"start-up waited {elapsed:.1f} s"
    assert manager.status("slow.start").state is State.FAILED
    assert manager.status("slow.start").reason == "activating did not finish within 0.5 s"
    assert manager.status("quick.one").state is State.ACTIVE
    # When the late activate finally returns, the extension stays failed and is deactivated.
    time.sleep(3.2)
    assert manager.status("slow.start").state is State.FAILED
    import sys

    module = sys.modules[manager.manifest("slow.start").extension.entry.split(":")[0]]
    assert getattr(module.Ext, "deactivated", False) is True
    release.set()
    assert folder.is_dir()


def test_manifest_timeout_overrides_the_default(env: Env) -> None:
    hang = (
        "import time\nclass Ext(Operator):\n    def activate(self, ctx):\n        time.sleep(2)\n"
    )
    write_extension(
        env.ext_dir,
        "slow.custom",
        hang,
        activation='["on_startup"]',
        runtime="activation_timeout_s = 0.2",
    )
    t0 = time.monotonic()
    manager = env.manager(activation_timeout_s=30)
    assert time.monotonic() - t0 < 1.5
    # The host process may not even finish loading within 0.2 s on a busy machine: either way
    # the manifest's timeout, not the default 30 s, applied.
    reason = manager.status("slow.custom").reason
    assert re.fullmatch(r"(loading|activating) did not finish within 0\.2 s", reason), reason


def test_changed_manifest_is_refused_until_enabled_again(env: Env) -> None:
    folder = env.echo("acme.pinned", "acme.pinned")
    env.manager().stop()
    manifest = folder / "symphony-extension.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "[permissions]", '[permissions]\nprocess = ["*"]'
        ),
        encoding="utf-8",
    )
    manager = env.manager()
    status = manager.status("acme.pinned")
    assert status.state is State.FAILED
    assert "manifest changed since it was pinned" in status.reason
    assert "symphony ext enable acme.pinned" in status.reason
    accepted = manager.set_enabled("acme.pinned", True)
    assert accepted.state is State.LOADED
    assert manager.call("acme.pinned", {"text": "ok"}).outputs == {"text": "ok"}
    assert env.db.registry()["acme.pinned"].manifest_hash == accepted.manifest_hash
    # The next start trusts the newly pinned manifest.
    assert env.manager().status("acme.pinned").state is State.LOADED


def test_disable_persists_and_configuration_wins(env: Env) -> None:
    env.echo("acme.a", "acme.a")
    env.echo("acme.b", "acme.b")
    manager = env.manager()
    manager.call("acme.a", {"text": "x"})
    status = manager.set_enabled("acme.a", False)
    assert status.enabled is False
    assert status.state is State.INACTIVE
    with pytest.raises(
        UsageError, match=re.escape("no enabled extension offers step type 'acme.a'")
    ):
        manager.call("acme.a", {"text": "x"})
    again = env.manager()
    assert again.status("acme.a").enabled is False
    assert again.status("acme.a").state is State.INSTALLED
    assert again.set_enabled("acme.a", True).state is State.LOADED
    configured = env.manager(disabled=["acme.b"])
    assert configured.status("acme.b").enabled is False
    assert "extensions.disabled" in configured.status("acme.b").reason
    with pytest.raises(UsageError, match=r"cannot enable acme.b: disabled by the configuration"):
        configured.set_enabled("acme.b", True)
    only = env.manager(enabled=["acme.a"])
    assert only.status("acme.b").reason == "not in the configuration's extensions.enabled"


def test_duplicate_ids_keep_the_first(env: Env, tmp_path: Path) -> None:
    env.echo("acme.dup", "acme.dup")
    other = tmp_path / "more"
    write_extension(other, "acme.dup", ECHO.format(step="acme.dup2"), steps=echo_step("acme.dup2"))
    manager = ExtensionManager(
        env.workspace,
        discover([env.ext_dir, other], builtin=False, packages=False),
        db=env.db,
        store=_no_store,
    )
    env.managers.append(manager)
    manager.start()
    statuses = [s for s in manager.statuses() if s.id == "acme.dup"]
    assert [s.state for s in statuses] == [State.LOADED, State.FAILED]
    assert "already provided by" in statuses[1].reason


def test_inputs_outputs_and_errors_of_calls(env: Env) -> None:
    body = """
class Ext(Operator):
    @step("acme.io")
    def run(self, ctx, inputs):
        if inputs["text"] == "undeclared":
            return {"text": "x", "extra": 1}
        if inputs["text"] == "wrong":
            return {"text": 5}
        if inputs["text"] == "raise":
            raise ValueError("cannot do that")
        return {"text": inputs["text"].upper()}
"""
    write_extension(env.ext_dir, "acme.io", body, steps=echo_step("acme.io"))
    manager = env.manager()
    assert manager.call("acme.io", {"text": "ok"}).outputs == {"text": "OK"}
    with pytest.raises(StepInputError, match="required input 'text' is missing"):
        manager.call("acme.io", {})
    with pytest.raises(StepInputError, match="'text' must be string, got an integer"):
        manager.call("acme.io", {"text": 3})
    # Bad outputs are the extension's bug: a failure (exit 1), not a usage error.
    with pytest.raises(ExtensionError, match=r"returned bad outputs: .*undeclared output 'extra'"):
        manager.call("acme.io", {"text": "undeclared"})
    with pytest.raises(ExtensionError, match="'output text' must be string"):
        manager.call("acme.io", {"text": "wrong"})
    with pytest.raises(ExtensionError, match=r"failed: ValueError: cannot do that"):
        manager.call("acme.io", {"text": "raise"})
    with pytest.raises(UsageError, match=re.escape("did you mean 'acme.io'")):
        manager.call("acme.oi", {"text": "x"})
    stats = manager.metrics("acme.io")
    assert (stats.calls, stats.errors) == (4, 3)  # input errors never reach the extension
    assert stats.p50_ms is not None
    assert env.db.call_stats("acme.io").calls == 0  # written in batches, not per call
    manager.audit.flush()
    db_stats = env.db.call_stats("acme.io")
    assert (db_stats.calls, db_stats.errors) == (4, 3)


SLEEPER = """
class Ext(Operator):
    @step("acme.sleep")
    def run(self, ctx, inputs):
        ctx.run(["sleep", "30"])
        return {"text": "woke"}
"""


def test_call_timeout_and_cancellation_stop_the_process(env: Env) -> None:
    write_extension(
        env.ext_dir,
        "acme.sleep",
        SLEEPER,
        steps=echo_step("acme.sleep"),
        permissions='process = ["sleep"]',
    )
    manager = env.manager()
    t0 = time.monotonic()
    with pytest.raises(ExtensionError, match=r"timed out after 0.3 s"):
        manager.call("acme.sleep", {"text": ""}, timeout=0.3)
    assert time.monotonic() - t0 < 3
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        manager.call("acme.sleep", {"text": ""}, cancel=cancel)
    assert time.monotonic() - t0 < 3


def test_permission_denials_are_refused_and_audited(env: Env, tmp_path: Path) -> None:
    body = """
class Ext(Operator):
    @step("probe.read")
    def read(self, ctx, inputs):
        return {"text": ctx.fs.read_text(inputs["text"])}

    @step("probe.spawn")
    def spawn(self, ctx, inputs):
        return {"text": ctx.run(["echo", inputs["text"]]).stdout}
"""
    steps = echo_step("probe.read") + echo_step("probe.spawn")
    write_extension(
        env.ext_dir, "probe", body, steps=steps, permissions='fs = { read = ["src/**"] }'
    )
    (env.workspace / "src").mkdir()
    (env.workspace / "src" / "a.txt").write_text("allowed", encoding="utf-8")
    (env.workspace / "secret.txt").write_text("no", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("no", encoding="utf-8")
    manager = env.manager()
    assert manager.call("probe.read", {"text": "src/a.txt"}).outputs == {"text": "allowed"}
    for target in ("secret.txt", "../outside.txt", str(tmp_path / "outside.txt")):
        with pytest.raises(PermissionDenied) as denied:
            manager.call("probe.read", {"text": target})
        assert denied.value.extension == "probe"
        assert denied.value.permission == "fs.read"
    with pytest.raises(PermissionDenied, match="'probe' is not allowed process on 'echo hi'"):
        manager.call("probe.spawn", {"text": "hi"})
    records = env.db.audit("probe", denied_only=True)
    assert [(r.permission, r.target) for r in records] == [
        ("fs.read", "secret.txt"),
        ("fs.read", "../outside.txt"),
        ("fs.read", str(tmp_path / "outside.txt")),
        ("process", "echo hi"),
    ]
    assert all(r.workspace == str(env.workspace.resolve()) for r in records)
    manager.audit.flush()
    allowed = env.db.audit("probe")
    assert ("fs.read", "src/a.txt", "allowed") in [
        (r.permission, r.target, r.decision) for r in allowed
    ]


def test_activation_events_wake_matching_extensions(env: Env) -> None:
    env.echo("acme.py", "acme.py", activation='["on_file_open:*.py", "on_command:acme.go"]')
    manager = env.manager()
    assert manager.fire("on_file_open:README.md") == []
    assert manager.fire("on_file_open:src/app.py") == ["acme.py"]
    deadline = time.monotonic() + 5
    while manager.status("acme.py").state is not State.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.01)
    assert manager.status("acme.py").state is State.ACTIVE


def test_settings_are_checked_against_the_manifest(env: Env) -> None:
    body = """
class Ext(Operator):
    def activate(self, ctx):
        self.level = ctx.settings["level"]

    @step("acme.level")
    def run(self, ctx, inputs):
        return {"text": str(self.level)}
"""
    settings = '\n[contributes.settings]\nlevel = { type = "integer", default = 1 }\n'
    write_extension(env.ext_dir, "acme.level", body, steps=echo_step("acme.level") + settings)
    manager = env.manager(settings={"acme.level": {"level": 3}})
    assert manager.call("acme.level", {"text": ""}).outputs == {"text": "3"}
    defaults = env.manager()
    assert defaults.call("acme.level", {"text": ""}).outputs == {"text": "1"}
    bad = env.manager(settings={"acme.level": {"level": "high"}})
    status = bad.status("acme.level")
    assert status.state is State.FAILED
    assert "extensions.settings.acme.level" in status.reason
    assert "'level' must be integer" in status.reason


def test_engine_discovers_extensions_dirs_and_reports_health(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / ".symphony").mkdir(parents=True)
    ext_dir = tmp_path / "exts"
    write_extension(
        ext_dir, "acme.echo", ECHO.format(step="acme.echo"), steps=echo_step("acme.echo")
    )
    write_extension(ext_dir, "acme.broken", "raise ImportError('half installed')\n")
    (workspace / ".symphony" / "config.toml").write_text(
        f'[extensions]\ndirs = ["{ext_dir}"]\n', encoding="utf-8"
    )
    events: list[Event] = []
    with Engine(workspace, watch_config=False) as engine:
        engine.subscribe(lambda env: events.append(env.payload), "evt.ExtensionStateChanged")
        ids = {s.id: s for s in engine.extensions.statuses()}
        # Named only by the workspace's own config: registered, but off until the user agrees.
        assert (ids["acme.echo"].state, ids["acme.echo"].enabled) == (State.INSTALLED, False)
        assert "symphony ext enable acme.echo" in ids["acme.echo"].reason
        assert engine.extensions.set_enabled("acme.echo", True).state is State.LOADED
        assert ids["symphony.shell"].source == "builtin"
        assert not ids["acme.broken"].enabled
        assert engine.extensions.set_enabled("acme.broken", True).state is State.FAILED
        assert "half installed" in engine.extensions.status("acme.broken").reason
        from engine.extensions.messages import RunStep, StepDone

        reply = engine.send(RunStep(step_type="acme.echo", inputs={"text": "via bus"}))
        assert isinstance(reply, StepDone)
        assert reply.outputs == {"text": "via bus"}
        health = next(c for c in engine.health().components if c.name == "extensions")
        assert health.status == "degraded"
        assert any("acme.broken" in r for r in health.reasons)
    assert "active" in [str(e.state) for e in events if isinstance(e, ExtensionStateChanged)]


def test_system_exit_in_extension_code_fails_only_that_extension(env: Env) -> None:
    exits = """
import sys
class Ext(Operator):
    def activate(self, ctx):
        sys.exit(3)
"""
    write_extension(env.ext_dir, "bye.activate", exits, activation='["on_startup"]')
    step_exit = """
import sys
class Ext(Operator):
    @step("bye.step")
    def run(self, ctx, inputs):
        sys.exit(0)
"""
    write_extension(env.ext_dir, "bye.step", step_exit, steps=echo_step("bye.step"))
    manager = env.manager()
    status = manager.status("bye.activate")
    assert (status.state, status.reason) == (State.FAILED, "activate: SystemExit: 3")
    assert manager.health().status == "degraded"
    with pytest.raises(ExtensionError, match="failed: SystemExit"):
        manager.call("bye.step", {"text": ""})


def test_stop_during_activation_leaves_nothing_running(env: Env) -> None:
    slow = """
import time
class Ext(Operator):
    deactivated = False
    def activate(self, ctx):
        time.sleep(0.5)
    def deactivate(self):
        type(self).deactivated = True
"""
    write_extension(env.ext_dir, "slow.stop", slow, activation='["on_startup"]')
    manager = ExtensionManager(
        env.workspace,
        discover([env.ext_dir], builtin=False, packages=False),
        db=env.db,
        store=_no_store,
        activation_timeout_s=0.05,
    )
    manager.start()  # returns before activate does
    manager.stop()
    deadline = time.monotonic() + 3
    while manager.status("slow.stop").state is not State.INACTIVE and time.monotonic() < deadline:
        time.sleep(0.02)
    # (failed by the start-up timeout, then undone by stop: never left active)
    assert manager.status("slow.stop").state in (State.FAILED, State.INACTIVE)
    assert manager.status("slow.stop").state is not State.ACTIVE


def test_disable_waits_for_calls_in_flight_and_blocks_new_ones(env: Env) -> None:
    body = """
import time
class Ext(Operator):
    active = False
    def activate(self, ctx):
        type(self).active = True
    def deactivate(self):
        type(self).active = False
    @step("busy.work")
    def run(self, ctx, inputs):
        if inputs["text"]:
            open(inputs["text"], "w").close()  # the test's sign that the call is running
        time.sleep(0.4)
        return {"text": str(type(self).active)}
"""
    write_extension(env.ext_dir, "busy", body, steps=echo_step("busy.work"))
    manager = env.manager()
    result: dict[str, Any] = {}
    entered = env.ext_dir / "entered"
    worker = threading.Thread(
        target=lambda: result.update(out=manager.call("busy.work", {"text": str(entered)}).outputs)
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not entered.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    status = manager.set_enabled("busy", False)
    worker.join(5)
    assert result["out"] == {"text": "True"}  # deactivate waited for the call
    assert (status.state, status.enabled) == (State.INACTIVE, False)
    with pytest.raises(UsageError):
        manager.call("busy.work", {"text": ""})
    assert manager.status("busy").state is State.INACTIVE


def test_another_folder_claiming_a_registered_id_is_refused(env: Env, tmp_path: Path) -> None:
    env.echo("acme.real", "acme.real")
    env.manager().stop()
    impostor_dir = tmp_path / "elsewhere"
    write_extension(
        impostor_dir,
        "acme.real",
        ECHO.format(step="acme.real"),
        steps=echo_step("acme.real"),
        permissions='process = ["*"]',
    )
    (env.ext_dir / "acme.real" / "symphony-extension.toml").unlink()
    manager = ExtensionManager(
        env.workspace,
        discover([impostor_dir], builtin=False, packages=False),
        db=env.db,
        store=_no_store,
    )
    env.managers.append(manager)
    manager.start()
    status = manager.status("acme.real")
    assert status.state is State.FAILED
    assert "another extension claims the id acme.real" in status.reason


def test_unbounded_timeouts_are_refused_and_never_break_the_timer(env: Env) -> None:
    from engine.extensions.manifest import parse_manifest
    from engine.types.errors import ManifestError

    base = '[extension]\nid="a"\nname="a"\nversion="1.0.0"\ntype="operator"\nentry="m:E"\n'
    for value in ("inf", "nan", "1e12"):
        with pytest.raises(ManifestError, match=r"runtime\.call_timeout_s"):
            parse_manifest(f"{base}[runtime]\ncall_timeout_s = {value}\n".encode(), "m.toml")
    write_extension(
        env.ext_dir,
        "acme.sleep2",
        SLEEPER.replace("acme.sleep", "acme.sleep2"),
        steps=echo_step("acme.sleep2"),
        permissions='process = ["sleep"]',
    )
    manager = env.manager()
    with pytest.raises(Cancelled):
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        manager.call("acme.sleep2", {"text": ""}, cancel=cancel, timeout=float("inf"))
    t0 = time.monotonic()
    with pytest.raises(ExtensionError, match="timed out"):
        manager.call("acme.sleep2", {"text": ""}, timeout=0.3)
    assert time.monotonic() - t0 < 3  # the timer still works after an infinite timeout


def test_process_grant_needs_the_real_program(env: Env, tmp_path: Path) -> None:
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "echo").write_text("#!/bin/sh\necho not echo\n")
    (fake / "echo").chmod(0o755)
    body = f"""
class Ext(Operator):
    @step("run.it")
    def run(self, ctx, inputs):
        if inputs["text"] == "path":
            return {{"text": ctx.run(["{fake}/echo", "x"]).stdout}}
        if inputs["text"] == "env":
            return {{"text": ctx.run(["echo", "y"], env={{"PATH": "{fake}"}}).stdout}}
        return {{"text": ctx.run(["echo", "z"]).stdout}}
"""
    write_extension(
        env.ext_dir, "runner", body, steps=echo_step("run.it"), permissions='process = ["echo"]'
    )
    manager = env.manager()
    assert manager.call("run.it", {"text": "plain"}).outputs == {"text": "z\n"}
    with pytest.raises(PermissionDenied, match="not on PATH nor in the workspace"):
        manager.call("run.it", {"text": "path"})
    with pytest.raises(PermissionDenied, match="may not set PATH"):
        manager.call("run.it", {"text": "env"})
