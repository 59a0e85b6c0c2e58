"""The model client (production code) against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.config.models import AideConfig, ModelConfig
from engine.instruments import secrets
from engine.instruments.client import ChatClient
from engine.instruments.models import Models
from engine.instruments.sse import events
from engine.types.errors import Cancelled, ModelError, ModelNotConfigured, ModelUnavailable
from tests.support.model_server import Behaviour, ModelServer

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = "sk-test-0123456789abcdef"


OPEN: list[ChatClient | Models] = []


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as s:
        yield s
        for thing in OPEN:
            thing.close()
        OPEN.clear()


def config(server: ModelServer, **kw: object) -> ModelConfig:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "model": "m1",
        "api_key_env": "TEST_MODEL_KEY",
        "timeout_s": 5.0,
        **kw,
    }
    return ModelConfig.model_validate(values)


def client(server: ModelServer, **kw: object) -> ChatClient:
    made = ChatClient("local", config(server, **kw), environ={"TEST_MODEL_KEY": KEY})
    OPEN.append(made)
    return made


USER = [{"role": "user", "content": "hello there"}]


def test_sse_events_join_lines_skip_comments_and_stop_at_done() -> None:
    lines = [
        ": keep-alive",
        "data: a",
        "data: b",
        "",
        "event: x",
        "data: c",
        "",
        "data: [DONE]",
        "",
        "data: late",
        "",
    ]
    assert list(events(lines)) == ["a\nb", "c", "[DONE]"]


def test_non_streaming_reply_with_usage_cost_and_key(server: ModelServer) -> None:
    server.then(Behaviour(text="Hi!", usage=(1000, 500)))
    result = client(server, input_price=2.0, output_price=8.0, temperature=0.2).chat(USER)
    assert result.text == "Hi!" and result.model == "test-model"
    assert result.usage is not None and result.usage.total == 1500
    assert result.cost == pytest.approx((1000 * 2.0 + 500 * 8.0) / 1e6)
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "m1" and sent.body["temperature"] == 0.2
    assert sent.body["stream"] is False


def test_streaming_delivers_pieces_in_order_with_usage(server: ModelServer) -> None:
    server.then(Behaviour(text="one two three four", usage=(3, 4)))
    pieces: list[str] = []
    result = client(server).chat(USER, stream=True, on_delta=pieces.append)
    assert pieces == ["one", " two", " three", " four"]
    assert result.text == "one two three four" and result.finish_reason == "stop"
    assert result.usage is not None and (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
    ) == (3, 4)
    assert server.requests[0].body["stream_options"] == {"include_usage": True}
    assert result.cost is None  # no prices configured


def test_429_with_retry_after_is_retried(server: ModelServer) -> None:
    server.then(Behaviour(status=429, message="slow down", retry_after="1"), Behaviour(text="ok"))
    t0 = time.monotonic()
    result = client(server).chat(USER)
    assert result.text == "ok" and result.attempts == 2
    assert time.monotonic() - t0 >= 0.9  # waited as told
    assert len(server.requests) == 2


def test_5xx_retried_with_backoff_then_gives_up(server: ModelServer) -> None:
    server.then(*(Behaviour(status=503, message="overloaded") for _ in range(3)))
    with pytest.raises(
        ModelUnavailable, match=r"HTTP 503: overloaded \(gave up after 3 attempts\)"
    ):
        client(server, max_retries=2).chat(USER)
    assert len(server.requests) == 3


def test_4xx_fails_at_once_with_the_provider_message(server: ModelServer) -> None:
    server.then(Behaviour(status=401, message="bad key"))
    with pytest.raises(ModelError, match=r"HTTP 401: bad key.*TEST_MODEL_KEY") as err:
        client(server).chat(USER)
    assert err.value.status == 401 and len(server.requests) == 1
    server.then(Behaviour(status=404, message="model not found"))
    with pytest.raises(ModelError, match="a model it serves"):
        client(server).chat(USER)


def test_malformed_reply_and_missing_key_are_clear(server: ModelServer) -> None:
    server.then(Behaviour(raw=b'{"nope": 1}'))
    with pytest.raises(ModelError, match="not a chat-completion reply"):
        client(server).chat(USER)
    missing = ChatClient("local", config(server), environ={})
    OPEN.append(missing)
    with pytest.raises(ModelError, match="TEST_MODEL_KEY is not set"):
        missing.chat(USER)


def test_cancel_cuts_a_stream_that_went_quiet(server: ModelServer) -> None:
    server.then(Behaviour(text="first then nothing", stall_mid_stream=30))
    cancel = threading.Event()
    pieces: list[str] = []

    def on_delta(piece: str) -> None:
        pieces.append(piece)
        threading.Timer(0.2, cancel.set).start()

    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        client(server, timeout_s=60).chat(USER, stream=True, on_delta=on_delta, cancel=cancel)
    assert time.monotonic() - t0 < 3
    assert pieces == ["first"]


def test_cancel_while_the_provider_has_not_answered(server: ModelServer) -> None:
    server.then(Behaviour(stall=20))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        client(server, timeout_s=60).chat(USER, stream=True, cancel=cancel)
    assert time.monotonic() - t0 < 2


def test_a_stream_that_breaks_off_is_not_retried_twice_into_the_caller(
    server: ModelServer,
) -> None:
    server.then(Behaviour(text="Hello world again", cut_after=1), Behaviour(text="unused"))
    pieces: list[str] = []
    with pytest.raises(ModelError, match="broke off after 5 characters"):
        client(server).chat(USER, stream=True, on_delta=pieces.append)
    assert pieces == ["Hello"] and len(server.requests) == 1
    # Nothing shown yet: the same break is retried.
    server.queue.clear()
    server.then(Behaviour(text="x y", cut_after=0), Behaviour(text="fine"))
    assert client(server).chat(USER, stream=True).text == "fine"


def test_a_cost_needs_both_prices(server: ModelServer) -> None:
    server.then(Behaviour(text="x", usage=(10, 10)))
    assert client(server, input_price=1.0).chat(USER).cost is None


def test_cancel_ends_a_retry_wait(server: ModelServer) -> None:
    server.then(Behaviour(status=429, retry_after="20"))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        client(server).chat(USER, cancel=cancel)
    assert time.monotonic() - t0 < 3


def test_slow_reply_times_out_and_is_retried(server: ModelServer) -> None:
    server.then(Behaviour(stall=1.5), Behaviour(text="second try"))
    result = client(server, timeout_s=0.5).chat(USER)
    assert result.text == "second try" and result.attempts == 2


def test_connection_refused_is_unavailable() -> None:
    cfg = ModelConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, timeout_s=2)
    with pytest.raises(ModelUnavailable, match="connection failed"):
        gone = ChatClient("gone", cfg)
        OPEN.append(gone)
        gone.chat(USER)


def test_models_resolve_limit_and_count(server: ModelServer) -> None:
    aide = AideConfig(models={"a": config(server, max_concurrent=1), "b": config(server)})
    models = Models(lambda: aide, environ={"TEST_MODEL_KEY": KEY})
    OPEN.append(models)
    with pytest.raises(ModelNotConfigured, match="several models"):
        models.resolve()
    with pytest.raises(ModelNotConfigured, match="no model named 'c'"):
        models.resolve("c")
    with pytest.raises(ModelNotConfigured, match="symphony models add"):
        Models(lambda: AideConfig()).resolve()
    # One slot for "a": two calls at once run one after the other.
    server.then(Behaviour(text="x", stall=0.4), Behaviour(text="y", stall=0.4))
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(models.chat(USER, model="a").text))
        for _ in range(2)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["x", "y"] and time.monotonic() - t0 >= 0.8
    totals = models.totals["a"]
    assert (totals.calls, totals.errors, totals.prompt_tokens) == (2, 0, 22)


def test_the_key_is_redacted_from_logs_and_errors(
    server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.then(Behaviour(status=400, message=f"your key {KEY} is not allowed"))
    with pytest.raises(ModelError) as err:
        client(server).chat(USER)
    assert KEY not in str(err.value) and secrets.REDACTED in str(err.value)
    record = logging.LogRecord("symphony.ext.x", logging.INFO, "", 0, "key=%s", (KEY,), None)
    assert secrets.RedactingFilter().filter(record)
    assert KEY not in record.getMessage()
    assert secrets.redact_bytes(f"x{KEY}y".encode()) == b"x[redacted]y"


def test_a_prompt_holding_a_configured_key_is_not_sent(server: ModelServer) -> None:
    aide = AideConfig(models={"local": config(server)})
    models = Models(lambda: aide, environ={"TEST_MODEL_KEY": KEY})
    OPEN.append(models)
    models.register_keys()  # what the engine does once it has started
    assert secrets.redact(f"OPENAI_API_KEY={KEY}") == "OPENAI_API_KEY=[redacted]"
    leak = [{"role": "user", "content": f"File .env:\nOPENAI_API_KEY={KEY}\n"}]
    with pytest.raises(ModelError, match=r"messages\[0\] holds a configured API key"):
        models.chat(leak)
    assert not server.requests
