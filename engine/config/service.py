"""The live configuration: last good config, hot reload from watched files, persistent edits.

:class:`ConfigService` owns the configuration of one workspace while the engine runs. It keeps the
last configuration that validated; a watcher thread (watchfiles) reloads it when the user or
project file changes and reports :class:`ConfigChanged` or :class:`ConfigRejected` through a
callback, so an invalid edit is shown, never fatal. :meth:`ConfigService.set_value` validates a
change before writing it atomically. This module must not publish to the bus itself (the caller
wires the callback) and must not create directories except when asked to write a value.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.loader import (
    LAYER_ORDER,
    LoadedConfig,
    build,
    changed_keys,
    combine,
    load_config,
    read_layers,
)
from engine.config.paths import CONFIG_NAMES, FileLayer, config_dirs
from engine.config.sources import Layer, split_key
from engine.config.writer import with_value, write_value
from engine.types.errors import ConfigError, ConfigErrors
from engine.types.messages import ConfigChanged, ConfigRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["ConfigEvent", "ConfigService"]

log = logging.getLogger(__name__)

ConfigEvent = ConfigChanged | ConfigRejected

_STEP_MS = 50  # quiet time that ends a burst of file events
_RESCAN_MS = 1000  # how often the watcher rechecks which directories exist
_STOP_TIMEOUT_S = 2.0


class ConfigService:
    """The configuration of one workspace, kept current while the engine runs.

    Args:
        workspace: the project folder.
        overrides: ``--set section.key=value`` strings, re-applied on every reload.
        env: environment for ``SYMPHONY_*`` variables; ``None`` reads ``os.environ`` each time.
        debounce_ms: longest time file events are gathered before one reload.

    Raises:
        ConfigError: the configuration is invalid when the service is created.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        overrides: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        debounce_ms: int = 100,
    ) -> None:
        self._workspace = workspace.absolute()
        self._overrides = tuple(overrides)
        self._env = dict(env) if env is not None else None
        self._debounce_ms = debounce_ms
        self._lock = threading.Lock()  # guards _current
        self._io_lock = threading.RLock()  # one reload or write at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_rejection: str | None = None
        self._current = self._load()

    @property
    def workspace(self) -> Path:
        """The (absolute) workspace folder."""
        return self._workspace

    @property
    def current(self) -> LoadedConfig:
        """The last configuration that validated."""
        with self._lock:
            return self._current

    def _load(self) -> LoadedConfig:
        return load_config(self._workspace, overrides=self._overrides, env=self._env)

    def reload(self) -> list[str]:
        """Read every layer again and apply the result if it is valid.

        Returns:
            The dotted keys whose value changed (empty if none did).

        Raises:
            ConfigError: the configuration is now invalid; the last good one stays current.
        """
        return self._reload()[1]

    def _reload(self) -> tuple[LoadedConfig, list[str]]:
        with self._io_lock:
            new = self._load()
            with self._lock:
                changed = changed_keys(self._current, new)
                self._current = new
            return new, changed

    # --- watching --------------------------------------------------------------------------

    def watch(self, on_event: Callable[[ConfigEvent], None]) -> None:
        """Start a daemon thread that reloads when a configuration file changes.

        ``on_event`` is called from that thread with :class:`ConfigChanged` (valid change, with
        the changed keys and their new values) or :class:`ConfigRejected` (invalid; the last
        good configuration stays). Nothing is emitted when a change leaves every value as it was,
        except right after a rejection: then a ConfigChanged (possibly with no keys) says the
        configuration is valid again.

        Raises:
            RuntimeError: the service is already watching.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("ConfigService is already watching")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(on_event,), name="symphony-config-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns once the watcher thread has ended (about 0.1 s)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(_STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("configuration watcher did not stop within %.1f s", _STOP_TIMEOUT_S)

    def __enter__(self) -> ConfigService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _plan(self) -> tuple[list[Path], frozenset[Path]]:
        """Directories to watch and the paths whose events matter.

        A configuration directory that does not exist yet is not created: its nearest existing
        ancestor is watched instead, and its creation makes the watcher re-plan.
        """
        targets: list[Path] = []
        relevant: set[Path] = set()
        for directory, _layer in config_dirs(self._workspace, self._env):
            directory = directory.absolute()
            target = directory
            while not target.is_dir() and target.parent != target:
                target = target.parent
            if target not in targets:
                targets.append(target)
            for path in (directory, *(directory / name for name in CONFIG_NAMES)):
                relevant.update((path, path.resolve()))
            # Creating a missing directory between `target` and the config dir is relevant.
            relevant.update(p for p in directory.parents if target in (p, *p.parents))
        return targets, frozenset(relevant)

    def _run(self, on_event: Callable[[ConfigEvent], None]) -> None:
        import watchfiles

        # Reload once each new watch is in place: an edit made before it existed (while the
        # thread started, or while a directory was being created) would be missed otherwise.
        recheck = True
        while not self._stop.is_set():
            targets, relevant = self._plan()
            try:
                for changes in watchfiles.watch(
                    *targets,
                    watch_filter=_only(relevant),
                    debounce=self._debounce_ms,
                    step=_STEP_MS,
                    stop_event=self._stop,
                    rust_timeout=_RESCAN_MS,
                    yield_on_timeout=True,
                    recursive=False,
                    raise_interrupt=False,
                ):
                    if changes or recheck:
                        recheck = False
                        self._check(on_event)
                    if self._plan()[0] != targets:
                        recheck = True
                        break
            except OSError as e:  # a watched directory vanished before the watch began
                log.debug("re-planning configuration watch: %s", e)
                recheck = True
                self._stop.wait(_STEP_MS / 1000)

    def _check(self, on_event: Callable[[ConfigEvent], None]) -> None:
        try:
            new, changed = self._reload()
        except ConfigError as e:
            if e.message == self._last_rejection:
                return  # the same problem seen again (e.g. two events for one save)
            self._last_rejection = e.message
            log.warning("configuration change rejected: %s", e.message)
            self._emit(on_event, ConfigRejected(message=e.message, source=e.source, key=e.key))
            return
        recovered, self._last_rejection = self._last_rejection is not None, None
        # After a rejection, an empty ConfigChanged tells listeners the error is resolved even
        # when the fix restored exactly the last good configuration.
        if changed or recovered:
            flat = new.flat()
            values = {key: flat.get(key) for key in changed}
            self._emit(on_event, ConfigChanged(changed_keys=tuple(changed), values=values))

    @staticmethod
    def _emit(on_event: Callable[[ConfigEvent], None], event: ConfigEvent) -> None:
        try:
            on_event(event)
        except Exception:
            # The watcher must outlive a faulty subscriber; the traceback goes to the log.
            log.exception("configuration event handler failed on %s", type(event).__name__)

    # --- writing ---------------------------------------------------------------------------

    def set_value(self, key: str, value: Any, layer: FileLayer = "user") -> Path:
        """Persist ``key = value`` in the user or project configuration file.

        The change is validated first (against every layer, and against the files alone so a
        value hidden by an environment variable cannot be broken); nothing is written if it is
        invalid. TOML files keep their comments; the file and its directory are created if
        missing. The watcher, if running, then reports the change.

        Args:
            key: dotted key, e.g. ``ide.editor.tab_size``.
            value: the new value; ``None`` removes the key from that file.
            layer: ``"user"`` or ``"project"``.

        Returns:
            The file written.

        Raises:
            ConfigError: the key, the value or the resulting configuration is invalid, or the
                file cannot be written.
        """
        if layer not in ("user", "project"):
            raise ConfigError(f"layer must be 'user' or 'project', got {layer!r}", key=key)
        with self._io_lock:
            layers, files = read_layers(self._workspace, overrides=self._overrides, env=self._env)
            target = next(f for f in files if f.layer == layer)
            parts = split_key(key, source=str(target.path))
            old = next((x.data for x in layers if x.name == layer), {})
            data = with_value(old, parts, value)
            others = [x for x in layers if x.name != layer]
            updated = sorted(
                [*others, Layer(layer, str(target.path), data)],
                key=lambda x: LAYER_ORDER.index(x.name),
            )
            build(updated, files)
            self._check_files_alone(updated, parts)
            write_value(target.path, parts, value, data)
            return target.path

    @staticmethod
    def _check_files_alone(layers: Sequence[Layer], parts: Sequence[str]) -> None:
        try:
            build([x for x in layers if x.name in ("user", "project")])
        except ConfigError as e:
            key = ".".join(parts)
            problems = e.errors if isinstance(e, ConfigErrors) else [e]
            related = [
                p
                for p in problems
                if p.key is None
                or p.key == key
                or p.key.startswith(key + ".")
                or key.startswith(p.key + ".")
            ]
            if related:
                raise combine(related) from e


def _only(relevant: frozenset[Path]) -> Callable[[Any, str], bool]:
    """A watchfiles filter keeping events on ``relevant`` paths."""

    def keep(_change: Any, path: str) -> bool:
        return Path(path) in relevant

    return keep
