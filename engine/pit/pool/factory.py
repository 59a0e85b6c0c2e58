"""How the pool makes, checks and closes one kind of instance.

A :class:`Factory` is registered per kind (``model``, later ``lsp``…); the pool calls it with
the full key (``model:llama3``). ``create`` may be slow — that is the warm-up — and runs outside
the pool's lock, as do ``close`` and ``healthy``. Subclass :class:`Factory` to inherit the
defaults of ``healthy`` and ``memory_mb``, or wrap plain functions in :class:`FunctionFactory`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Factory", "FunctionFactory"]


class Factory(Protocol):
    """Make, close and check the instances of one kind."""

    def create(self, key: str) -> object:
        """Make the instance for ``key``; may take long. Raising marks the key failed."""
        ...

    def close(self, key: str, instance: object) -> None:
        """Release everything ``instance`` holds. Called once per created instance."""
        ...

    def healthy(self, key: str, instance: object) -> bool:
        """Whether ``instance`` still works; runs beside leases, so it must be thread-safe."""
        return True

    def memory_mb(self, key: str) -> float:
        """Estimated memory of one instance of ``key``, for the pool's memory budget."""
        return 0.0


class FunctionFactory(Factory):
    """A :class:`Factory` made of plain callables.

    Args:
        create: makes the instance for a key.
        close: releases an instance (nothing by default).
        healthy: checks an instance (always healthy by default).
        memory_mb: a fixed estimate, or a function of the key.
    """

    def __init__(
        self,
        create: Callable[[str], object],
        close: Callable[[str, object], None] | None = None,
        *,
        healthy: Callable[[str, object], bool] | None = None,
        memory_mb: float | Callable[[str], float] = 0.0,
    ) -> None:
        self._create = create
        self._close = close
        self._healthy = healthy
        self._memory = memory_mb

    def create(self, key: str) -> object:
        return self._create(key)

    def close(self, key: str, instance: object) -> None:
        if self._close is not None:
            self._close(key, instance)

    def healthy(self, key: str, instance: object) -> bool:
        return True if self._healthy is None else self._healthy(key, instance)

    def memory_mb(self, key: str) -> float:
        return self._memory(key) if callable(self._memory) else self._memory
