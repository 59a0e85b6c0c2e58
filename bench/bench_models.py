"""The model client's own cost: chat completions through :class:`ChatClient` (retries, SSE
parsing, usage, cancellation watch, per-model limit through :class:`Models`) next to a bare
``httpx`` request to the same local chat-completions server in the same run.

``python -m bench.bench_models``. The server is the tests' :class:`ModelServer` on 127.0.0.1, so
the figures are the client's overhead, not a model's speed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from bench.common import Figure, print_table
from engine.config.models import AideConfig, ModelConfig
from engine.instruments.models import Models
from tests.support.model_server import Behaviour, ModelServer

TITLE = "model client (local chat-completions server)"
CALLS = 200
#: Words in a streamed reply (one SSE event each).
WORDS = 500

MESSAGES = [{"role": "user", "content": "hello"}]


def _median_ms(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def run() -> list[Figure]:
    long_reply = " ".join(f"w{i}" for i in range(WORDS))
    with ModelServer() as server:
        config = ModelConfig(base_url=server.base_url, model="m", max_retries=0)
        models = Models(lambda: AideConfig(models={"local": config}))
        raw = httpx.Client()
        body = {"model": "m", "messages": MESSAGES}

        def bare() -> None:
            raw.post(server.base_url + "/chat/completions", json=body).json()

        def client() -> None:
            models.chat(MESSAGES)

        def bare_stream() -> None:
            server.then(Behaviour(text=long_reply))
            with raw.stream(
                "POST", server.base_url + "/chat/completions", json={**body, "stream": True}
            ) as reply:
                for _line in reply.iter_lines():
                    pass

        def client_stream() -> None:
            server.then(Behaviour(text=long_reply))
            models.chat(MESSAGES, stream=True, on_delta=lambda _piece: None)

        for fn in (bare, client):  # warm the connections
            fn()
        figures = [
            Figure(
                "one reply through Models.chat",
                _median_ms(client, CALLS),
                "ms",
                "bare httpx post",
                _median_ms(bare, CALLS),
            ),
            Figure(
                f"streamed {WORDS}-piece reply",
                _median_ms(client_stream, 20),
                "ms",
                "bare httpx line reading",
                _median_ms(bare_stream, 20),
            ),
        ]
        raw.close()
        models.close()
    return figures


if __name__ == "__main__":
    print_table(TITLE, run())
