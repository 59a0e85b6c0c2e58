"""Tunables of an IPC server or client, with the defaults taken from the ``[ipc]`` config.

:class:`Settings` is a plain frozen dataclass read on hot paths; build it from the user's
configuration with :meth:`Settings.from_config`. This module must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from engine.config.models import IpcConfig

_CONFIG = IpcConfig()
#: A peer silent for this many heartbeat intervals is considered dead.
DEAD_AFTER_BEATS = 3


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Limits and timeouts of one IPC endpoint.

    Attributes:
        max_frame_bytes: largest frame body accepted from the peer.
        rate_limit_per_s: requests/events per second one peer may send (token refill rate).
        rate_burst: how many it may send at once (token bucket size).
        heartbeat_s: heartbeat interval; a peer silent for 3 intervals is dropped.
        request_timeout_s: default timeout of a request (and of each chunk of a stream).
        handshake_timeout_s: how long a new connection may take to authenticate.
        workers: threads running request handlers (shared by all peers of a server).
        peer_workers: how many of those one peer's requests may occupy at once.
        max_inflight: requests one peer may have waiting for a worker; more are refused.
        max_queued_bytes: frame bytes those waiting requests may hold in all; a request that
            would go past it is refused (one request alone is always let wait).
        stream_window: chunks a stream producer may send ahead of the consumer.
        chunk_bytes: the largest chunk of a stream, in bytes.
    """

    max_frame_bytes: int = _CONFIG.max_frame_bytes
    rate_limit_per_s: float = _CONFIG.rate_limit_per_s
    rate_burst: int = _CONFIG.rate_burst
    heartbeat_s: float = _CONFIG.heartbeat_s
    request_timeout_s: float = _CONFIG.request_timeout_ms / 1000.0
    handshake_timeout_s: float = 5.0
    workers: int = 16
    peer_workers: int = 4
    max_inflight: int = 256
    max_queued_bytes: int = 16 * 1024 * 1024
    stream_window: int = 8
    chunk_bytes: int = 256 * 1024

    @classmethod
    def from_config(cls, config: IpcConfig, **overrides: Any) -> Settings:
        """Settings from the ``[ipc]`` configuration section, then ``overrides``."""
        base = cls(
            max_frame_bytes=config.max_frame_bytes,
            rate_limit_per_s=config.rate_limit_per_s,
            rate_burst=config.rate_burst,
            heartbeat_s=config.heartbeat_s,
            request_timeout_s=config.request_timeout_ms / 1000.0,
        )
        return replace(base, **overrides)

    def __post_init__(self) -> None:
        counts = ("max_frame_bytes", "rate_burst", "workers", "peer_workers", "stream_window")
        for name in (*counts, "max_inflight", "max_queued_bytes", "chunk_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"Settings.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("rate_limit_per_s", "heartbeat_s", "request_timeout_s", "handshake_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Settings.{name} must be positive, got {getattr(self, name)}")

    @property
    def dead_after_s(self) -> float:
        """Silence after which a peer is dropped (also the send timeout)."""
        return DEAD_AFTER_BEATS * self.heartbeat_s
