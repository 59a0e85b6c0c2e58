"""The Engine facade end to end: real config files, real bus threads, typed commands."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from engine.runtime import Engine
from engine.types.errors import BootstrapError, RemoteError
from engine.types.messages import (
    Ack,
    ConfigChanged,
    ConfigSnapshot,
    EngineFailed,
    EngineStarted,
    EngineStopped,
    Envelope,
    GetConfig,
    GetHealth,
    HealthReport,
    HealthStatus,
    ReloadConfig,
    SetConfigValue,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def engine_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("symphony")}


def test_start_answers_commands_and_stop_leaves_no_threads(workspace: Path) -> None:
    before = engine_threads()
    events: queue.Queue[object] = queue.Queue()
    engine = Engine(workspace, watch_config=False)
    engine.subscribe(lambda env: events.put(env.payload), "evt.Engine*")
    report = engine.start()
    assert [r.name for r in report.results] == [
        "types",
        "config",
        "workspace",
        "bus",
        "pit",
        "extensions",
        "runs",
    ]
    assert isinstance(events.get(timeout=5), EngineStarted)

    health = engine.send(GetHealth())
    assert isinstance(health, HealthReport)
    assert health.status is HealthStatus.HEALTHY
    config = engine.send(GetConfig())
    assert isinstance(config, ConfigSnapshot)
    assert config.values["ide.theme"] == "symphony-dark"
    assert config.origins["ide.theme"] == "default: built-in"

    engine.stop()
    assert isinstance(events.get(timeout=5), EngineStopped)
    assert engine.bus.closed
    assert engine_threads() == before


def test_invalid_config_fails_start_up_rolls_back_and_tells_listeners(workspace: Path) -> None:
    (workspace / ".symphony").mkdir()
    (workspace / ".symphony" / "config.toml").write_text("[bus]\nspeed = 1\n")
    before = engine_threads()
    failures: list[EngineFailed] = []
    engine = Engine(workspace)
    engine.on_failure(failures.append)
    with pytest.raises(BootstrapError) as info:
        engine.start()
    assert "config" in str(info.value) and "bus" in str(info.value)
    assert engine.failed
    assert failures and failures[0].failed_phase == "config"
    assert {r.name: r.status for r in engine.report.results} == {
        "types": "rolled_back",
        "config": "failed",
        "workspace": "skipped",
        "bus": "skipped",
        "pit": "skipped",
        "extensions": "skipped",
        "runs": "skipped",
    }
    engine.stop()
    assert engine_threads() == before


def test_missing_workspace_fails_in_the_workspace_phase(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "gone", watch_config=False)
    with pytest.raises(BootstrapError, match="does not exist"):
        engine.start()
    assert engine.report.failed_phase == "workspace"
    engine.stop()


def test_set_config_value_persists_and_reload_announces_it(workspace: Path) -> None:
    changes: queue.Queue[ConfigChanged] = queue.Queue()

    def on_event(env: Envelope) -> None:
        if isinstance(env.payload, ConfigChanged):
            changes.put(env.payload)

    with Engine(workspace, watch_config=False) as engine:
        engine.subscribe(on_event)
        reply = engine.send(SetConfigValue(key="ide.editor.tab_size", value=2, layer="project"))
        assert isinstance(reply, Ack)
        written = Path(reply.detail)
        assert written == workspace / ".symphony" / "config.toml"
        assert "tab_size = 2" in written.read_text()
        # The watcher is off here, so the change arrives when a client asks for a reload.
        ack = engine.send(ReloadConfig())
        assert isinstance(ack, Ack) and ack.detail == "1 key(s) changed"
        event = changes.get(timeout=5)
        assert event.changed_keys == ("ide.editor.tab_size",)
        assert event.values == {"ide.editor.tab_size": 2}


def test_bad_command_value_is_an_error_reply_and_the_engine_keeps_going(workspace: Path) -> None:
    with Engine(workspace, watch_config=False) as engine:
        with pytest.raises(RemoteError) as info:
            engine.send(SetConfigValue(key="ide.editor.tab_size", value="wide"))
        assert info.value.remote_code == "config.invalid"
        assert "ide.editor.tab_size" in str(info.value)
        assert isinstance(engine.send(GetHealth()), HealthReport)


def test_config_edit_while_running_is_published_as_an_event(workspace: Path) -> None:
    cfg = workspace / ".symphony" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text("[core]\nlog_level = 'info'\n")
    changes: queue.Queue[ConfigChanged] = queue.Queue()
    with Engine(workspace) as engine:
        engine.subscribe(lambda env: changes.put(env.payload), "evt.ConfigChanged")
        cfg.write_text("[core]\nlog_level = 'debug'\n")
        event = changes.get(timeout=10)
        assert event.changed_keys == ("core.log_level",)
        assert engine.config.core.log_level == "debug"


def test_rejected_config_degrades_health_and_says_so(workspace: Path) -> None:
    from engine.types.messages import ConfigRejected

    cfg = workspace / ".symphony" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text("[core]\nlog_level = 'info'\n")
    seen: queue.Queue[object] = queue.Queue()
    with Engine(workspace, watch_config=False) as engine:
        engine.subscribe(lambda env: seen.put(env.payload), "evt.*")
        cfg.write_text("[core]\nlog_level = 'loud'\n")
        with pytest.raises(RemoteError, match=r"core\.log_level"):
            engine.send(ReloadConfig())
        kinds: dict[str, object] = {}
        while len(kinds) < 2:
            payload = seen.get(timeout=5)
            kinds[type(payload).__name__] = payload
        rejected = kinds["ConfigRejected"]
        assert isinstance(rejected, ConfigRejected) and rejected.key == "core.log_level"
        changed = kinds["HealthChanged"]
        assert changed.component.name == "config"  # type: ignore[attr-defined]
        assert changed.component.status is HealthStatus.DEGRADED  # type: ignore[attr-defined]
        assert engine.config.core.log_level == "info"  # the last good config stays


def test_start_creates_no_store_until_an_artifact_is_put(workspace: Path) -> None:
    from engine.pit.messages import (
        ArtifactReply,
        ArtifactSearchResults,
        ArtifactStored,
        GetArtifactInfo,
        PutArtifact,
        SearchArtifacts,
    )

    (workspace / "report.txt").write_text("all forty-two tests passed\n")
    stored: queue.Queue[ArtifactStored] = queue.Queue()
    with Engine(workspace, watch_config=False) as engine:
        assert not (workspace / ".symphony").exists()
        engine.subscribe(lambda env: stored.put(env.payload), "evt.ArtifactStored")
        reply = engine.send(PutArtifact(path="report.txt", name="report", tags=("ci",)))
        assert isinstance(reply, ArtifactReply)
        assert reply.info.names == ("report@1",)
        assert stored.get(timeout=5).info.hash == reply.info.hash
        assert (workspace / ".symphony" / "artifacts" / "pit.db").exists()
        found = engine.send(SearchArtifacts(query="forty"))
        assert isinstance(found, ArtifactSearchResults)
        assert [h.hash for h in found.hits] == [reply.info.hash]
        again = engine.send(GetArtifactInfo(ref="report"))
        assert isinstance(again, ArtifactReply) and again.info.tags == ("ci",)
        with pytest.raises(RemoteError) as info:
            engine.send(GetArtifactInfo(ref="nope"))
        assert info.value.remote_code == "usage"
        pit = next(c for c in engine.health().components if c.name == "pit")
        assert pit.detail["artifacts"] == 1
