"""Message envelope, codec and error hierarchy (SPEC §3.1)."""

from __future__ import annotations

import os
import warnings

import msgspec
import pytest

from engine.types import errors
from engine.types.codec import Codec
from engine.types.ids import new_id
from engine.types.messages import (
    Ack,
    Command,
    ComponentHealth,
    ConfigChanged,
    Envelope,
    Event,
    GetHealth,
    HealthReport,
    HealthStatus,
    Kind,
    Priority,
    Reply,
    SetConfigValue,
    command_topic,
    event_topic,
    message_types,
)


def test_envelope_round_trips_with_every_field() -> None:
    codec = Codec()
    env = Envelope(
        topic="cmd.SetConfigValue",
        payload=SetConfigValue(key="ide.theme", value="nocturne", layer="project"),
        kind=Kind.REQUEST,
        source="tui",
        target="engine",
        correlation_id="c-1",
        priority=Priority.HIGH,
        timeout_ms=500,
    )
    assert codec.decode(codec.encode(env)) == env


def test_events_carry_an_id_and_a_timestamp() -> None:
    a = ConfigChanged(changed_keys=("ide.theme",))
    b = ConfigChanged(changed_keys=("ide.theme",))
    assert a.id != b.id
    assert a.at > 0


def test_topics_follow_the_naming_rules() -> None:
    assert command_topic(GetHealth()) == "cmd.GetHealth"
    assert command_topic(GetHealth) == "cmd.GetHealth"
    assert event_topic(ConfigChanged) == "evt.ConfigChanged"


def test_message_kinds_are_separate_families() -> None:
    types = message_types()
    assert GetHealth in types and ConfigChanged in types and Ack in types
    assert Command not in types and Event not in types and Reply not in types
    for cls in types:
        assert issubclass(cls, (Command, Event, Reply)), cls


def test_unknown_envelope_fields_are_tolerated() -> None:
    codec = Codec()
    raw = msgspec.msgpack.encode(
        {"topic": "evt.X", "payload": {"type": "Ack", "detail": "ok"}, "future_field": [1, 2]}
    )
    assert codec.decode(raw).payload == Ack(detail="ok")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"type": "NoSuchMessage"}, "NoSuchMessage"),
        ({"type": "SetConfigValue", "key": 5, "value": 1}, "Expected `str`"),
        ({"type": "SetConfigValue", "key": "a", "value": 1, "layer": "system"}, "layer"),
    ],
)
def test_wrong_payloads_are_rejected_with_a_clear_error(payload: object, match: str) -> None:
    raw = msgspec.msgpack.encode({"topic": "t", "payload": payload})
    with pytest.raises(errors.IpcError, match=match):
        Codec().decode(raw)


def test_garbage_bytes_raise_ipc_error() -> None:
    with pytest.raises(errors.IpcError, match="malformed message"):
        Codec().decode(b"\xc1\xff\x00garbage")


def test_health_report_status_is_the_worst_component() -> None:
    ok = ComponentHealth(name="a", status=HealthStatus.HEALTHY)
    meh = ComponentHealth(name="b", status=HealthStatus.DEGRADED, reasons=("slow",))
    assert HealthReport(components=(ok,)).status is HealthStatus.HEALTHY
    assert HealthReport(components=(ok, meh)).status is HealthStatus.DEGRADED
    assert HealthReport(components=()).status is HealthStatus.HEALTHY


def test_ids_are_unique_and_differ_after_fork() -> None:
    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() with threads alive; the child only writes one id.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: report its first id and leave without running pytest's atexit
        os.write(write, new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read, 100).decode()
    assert child_id.split("-")[0] != new_id().split("-")[0]


def test_error_hierarchy_codes_and_exit_codes() -> None:
    cases = {
        errors.UsageError: 2,
        errors.ConfigError: 2,
        errors.ManifestError: 2,
        errors.ThemeError: 2,
        errors.RunError: 1,
        errors.ArtifactError: 1,
        errors.PermissionDenied: 1,
        errors.IpcError: 3,
        errors.BusTimeout: 3,
        errors.Interrupted: 130,
    }
    for cls, code in cases.items():
        assert issubclass(cls, errors.SymphonyError)
        assert cls.exit_code == code, cls
    codes = [c.code for c in (*cases, errors.BusError, errors.NoHandler, errors.BootstrapError)]
    assert len(codes) == len(set(codes)), "error codes must be unique"


def test_config_error_message_names_source_and_key() -> None:
    e = errors.ConfigError(
        "expected int", source="/p/.symphony/config.toml", key="core.concurrency"
    )
    assert str(e) == "/p/.symphony/config.toml: core.concurrency: expected int"
    both = errors.ConfigErrors([e, errors.ConfigError("unknown key", source="--set", key="x.y")])
    assert both.errors[1].key == "x.y"
    assert str(both).splitlines() == [str(e), "--set: x.y: unknown key"]
