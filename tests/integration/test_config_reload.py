"""Hot reload with real files and a real watcher: valid edits apply, invalid ones are rejected."""

from __future__ import annotations

import json
import queue
import time
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from engine.config import ConfigEvent, ConfigService, user_config_dir
from engine.types.errors import ConfigError
from engine.types.messages import ConfigChanged, ConfigRejected

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TIMEOUT_S = 10.0


@dataclass
class Watched:
    service: ConfigService
    events: queue.Queue[ConfigEvent]
    project: Path
    env: dict[str, str]

    def next_event(self) -> ConfigEvent:
        try:
            return self.events.get(timeout=TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"no configuration event within {TIMEOUT_S} s")

    def changed(self) -> ConfigChanged:
        event = self.next_event()
        assert isinstance(event, ConfigChanged), event
        return event

    def rejected(self) -> ConfigRejected:
        event = self.next_event()
        assert isinstance(event, ConfigRejected), event
        return event


def start(workspace: Path, env: dict[str, str]) -> tuple[ConfigService, queue.Queue[ConfigEvent]]:
    service = ConfigService(workspace, env=env, debounce_ms=50)
    events: queue.Queue[ConfigEvent] = queue.Queue()
    service.watch(events.put)
    return service, events


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    workspace = tmp_path / "ws"
    project = workspace / ".symphony" / "config.toml"
    project.parent.mkdir(parents=True)
    project.write_text('# project settings\n[ide]\ntheme = "first"  # keep me\n', encoding="utf-8")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    service, events = start(workspace, env)
    yield Watched(service, events, project, env)
    service.stop()


def test_valid_edit_announces_exactly_the_changed_keys(watched: Watched) -> None:
    watched.project.write_text(
        '[ide]\ntheme = "second"\n[ide.editor]\ntab_size = 2\n', encoding="utf-8"
    )

    event = watched.changed()

    assert event.changed_keys == ("ide.editor.tab_size", "ide.theme")
    assert event.values == {"ide.editor.tab_size": 2, "ide.theme": "second"}
    assert watched.service.current.config.ide.theme == "second"


def test_rewrite_with_same_values_announces_nothing(watched: Watched) -> None:
    watched.project.write_text('[ide]\ntheme = "first"\n', encoding="utf-8")  # comment gone only
    watched.project.write_text('[ide]\ntheme = "first"\n', encoding="utf-8")
    time.sleep(0.3)
    watched.project.write_text('[ide]\ntheme = "third"\n', encoding="utf-8")

    # The first event seen is the real change: the rewrites produced none.
    assert watched.changed().changed_keys == ("ide.theme",)


def test_invalid_edit_is_rejected_and_last_good_config_stays(watched: Watched) -> None:
    good = watched.service.current

    watched.project.write_text('[ide]\ntheme = "second"\nthemee = "oops"\n', encoding="utf-8")
    rejected = watched.rejected()

    assert rejected.source == str(watched.project)
    assert rejected.key == "ide.themee"
    assert "unknown key" in rejected.message
    assert watched.service.current is good

    watched.project.write_text('[ide]\ntheme = "second"\n', encoding="utf-8")
    event = watched.changed()

    assert event.changed_keys == ("ide.theme",)
    assert watched.service.current.config.ide.theme == "second"


def test_fix_back_to_last_good_config_clears_the_rejection(watched: Watched) -> None:
    original = watched.project.read_text(encoding="utf-8")
    watched.project.write_text("[ide\n", encoding="utf-8")
    assert "invalid TOML" in watched.rejected().message

    watched.project.write_text(original, encoding="utf-8")

    assert watched.changed().changed_keys == ()


def test_set_value_keeps_comments_writes_atomically_and_is_announced(watched: Watched) -> None:
    inode_before = watched.project.stat().st_ino

    written = watched.service.set_value("ide.editor.tab_size", 8, "project")

    assert written == watched.project
    text = watched.project.read_text(encoding="utf-8")
    assert "# project settings" in text
    assert 'theme = "first"  # keep me' in text
    assert tomllib.loads(text) == {"ide": {"theme": "first", "editor": {"tab_size": 8}}}
    # Written beside the file and renamed over it: a new inode, no temporary file left behind.
    assert watched.project.stat().st_ino != inode_before
    assert sorted(p.name for p in watched.project.parent.iterdir()) == ["config.toml"]

    event = watched.changed()
    assert event.changed_keys == ("ide.editor.tab_size",)
    assert watched.service.current.config.ide.editor.tab_size == 8


def test_set_value_with_invalid_value_writes_nothing(watched: Watched) -> None:
    before = watched.project.read_bytes()

    with pytest.raises(ConfigError) as info:
        watched.service.set_value("ide.editor.tab_size", 99, "project")
    assert (info.value.source, info.value.key) == (str(watched.project), "ide.editor.tab_size")
    with pytest.raises(ConfigError, match="unknown key"):
        watched.service.set_value("ide.editor.tabsize", 2, "project")

    assert watched.project.read_bytes() == before
    assert sorted(p.name for p in watched.project.parent.iterdir()) == ["config.toml"]
    # Nothing was announced: the next event is the next real change.
    watched.service.set_value("ide.keymap.save", "f5", "project")
    # The empty table was a value of its own, now replaced by one with a key.
    assert watched.changed().changed_keys == ("ide.keymap", "ide.keymap.save")


def test_set_value_creates_a_missing_user_file_and_the_watcher_sees_it(
    watched: Watched,
) -> None:
    user_file = user_config_dir(watched.env) / "config.toml"
    assert not user_file.parent.exists()

    written = watched.service.set_value("core.log_level", "debug", "user")

    assert written == user_file
    assert tomllib.loads(user_file.read_text(encoding="utf-8")) == {"core": {"log_level": "debug"}}
    assert watched.changed().changed_keys == ("core.log_level",)

    # Once the directory exists, the watcher watches it directly.
    user_file.write_text('[core]\nlog_level = "error"\n', encoding="utf-8")
    assert watched.changed().values == {"core.log_level": "error"}


def test_project_dir_created_after_watch_started(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    service, events = start(workspace, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    try:
        project = workspace / ".symphony" / "config.yaml"
        project.parent.mkdir()
        project.write_text("ipc:\n  transport: tcp\n", encoding="utf-8")

        event = events.get(timeout=TIMEOUT_S)

        assert isinstance(event, ConfigChanged)
        assert event.changed_keys == ("ipc.transport",)
    finally:
        service.stop()


def test_set_value_rewrites_json_files_as_json(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    project = workspace / ".symphony" / "config.json"
    project.parent.mkdir(parents=True)
    project.write_text('{"ide": {"theme": "a"}}', encoding="utf-8")
    service = ConfigService(workspace, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})

    service.set_value("extensions.dirs", ["/opt/ext"], "project")

    assert json.loads(project.read_text(encoding="utf-8")) == {
        "ide": {"theme": "a"},
        "extensions": {"dirs": ["/opt/ext"]},
    }
    assert service.reload() == ["extensions.dirs"]


def test_a_failing_listener_does_not_stop_the_watcher(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    project = workspace / ".symphony" / "config.toml"
    project.parent.mkdir(parents=True)
    project.write_text("", encoding="utf-8")
    service = ConfigService(workspace, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    events: queue.Queue[ConfigEvent] = queue.Queue()

    def listener(event: ConfigEvent) -> None:
        events.put(event)
        raise RuntimeError("listener bug")

    service.watch(listener)
    try:
        project.write_text('[ide]\ntheme = "a"\n', encoding="utf-8")
        assert isinstance(events.get(timeout=TIMEOUT_S), ConfigChanged)
        project.write_text('[ide]\ntheme = "b"\n', encoding="utf-8")
        second = events.get(timeout=TIMEOUT_S)
        assert isinstance(second, ConfigChanged)
        assert second.values == {"ide.theme": "b"}
    finally:
        service.stop()


def test_stop_is_prompt_and_watch_can_restart(watched: Watched) -> None:
    began = time.monotonic()
    watched.service.stop()
    assert time.monotonic() - began < 1.0

    watched.service.watch(watched.events.put)
    watched.project.write_text('[ide]\ntheme = "again"\n', encoding="utf-8")
    assert watched.changed().values == {"ide.theme": "again"}


def test_watching_twice_is_an_error(watched: Watched) -> None:
    with pytest.raises(RuntimeError, match="already watching"):
        watched.service.watch(watched.events.put)
