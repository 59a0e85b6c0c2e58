"""``ctx.models`` and the built-in ``llm.chat`` / ``llm.edit`` steps: real melody runs with the
real scheduler and engine against a real chat-completions server on 127.0.0.1, extensions in
and out of Symphony's process, and the API key kept out of everything Symphony writes."""

from __future__ import annotations

import hashlib
import json
import logging
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.instruments import secrets
from engine.instruments.access import DeltaRedactor
from engine.logs import configure_logging, log_file
from engine.runs.messages import RunFinished, StartRun, StepLog
from engine.runs.service import Runner
from engine.runs.states import RunState
from engine.runtime import Engine
from extensions.llm.edits import EditFormatError, changes_of, parse_reply
from tests.ext_support import write_extension
from tests.support.model_server import ModelServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.types.messages import Envelope

KEY = "sk-llm-test-5ecret-0123456789abcdef"
KEY_VAR = "TEST_LLM_API_KEY"


def write_melody(ws: Path, name: str, text: str) -> None:
    folder = ws / ".symphony" / "melodies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(textwrap.dedent(text), encoding="utf-8")


def model(
    server: ModelServer, name: str = "local", *, upstream: str = "m1", **kw: Any
) -> list[str]:
    """``--set`` overrides configuring model ``name`` at ``server``."""
    values = {"base_url": server.base_url, "model": upstream, "timeout_s": 10, "max_retries": 0}
    values.update(kw)
    return [f"aide.models.{name}.{k}={v}" for k, v in values.items()]


class Run:
    """A started engine and its melody runner."""

    def __init__(self, ws: Path, overrides: list[str]) -> None:
        self.engine = Engine(ws, watch_config=False, overrides=overrides)
        self.engine.start()
        self.runner = Runner(self.engine)

    def run(self, name: str, **kw: Any) -> Any:
        return self.runner.new_run(name, {}, **kw).execute()

    def close(self) -> None:
        self.runner.close()
        self.engine.stop()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def step(summary: Any, step_id: str) -> Any:
    return next(s for s in summary.steps if s.step_id == step_id)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("alpha\n", encoding="utf-8")
    (root / "src" / "b.txt").write_text("beta", encoding="utf-8")
    return root


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(model="provider-model-1") as s:
        yield s


CHAT = """
[melody]
name = "ask"

[[steps]]
id = "ask"
uses = "llm.chat"

[steps.with]
prompt = "Summarise the file."
system = "Be brief."
files = ["src/a.txt"]
temperature = 0.2
"""


def test_chat_answers_caches_and_misses_when_the_model_configuration_changes(
    ws: Path, server: ModelServer
) -> None:
    server.responder = lambda body: "It says alpha."
    write_melody(ws, "ask", CHAT)
    with Run(ws, model(server)) as r:
        first = r.run("ask")
        assert first.state is RunState.COMPLETED, step(first, "ask").error
        outputs = step(first, "ask").outputs
        assert outputs["text"] == "It says alpha."
        assert outputs["model"] == "local"
        assert (outputs["prompt_tokens"], outputs["completion_tokens"]) == (11, 7)
        assert outputs["cost"] is None  # no prices configured
        sent = server.requests[0].body
        assert sent["model"] == "m1"
        assert sent["temperature"] == 0.2
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert "alpha" in sent["messages"][1]["content"]
        assert sent["messages"][1]["content"].endswith("Summarise the file.")
        # prompt and reply are artifacts, the reply's lineage input being the prompt
        store = r.engine.pit.store()
        assert store.get_bytes(outputs["reply_artifact"]) == b"It says alpha."
        prompt = json.loads(store.get_bytes(outputs["prompt_artifact"]))
        assert prompt["messages"] == sent["messages"]
        assert outputs["prompt_artifact"] in store.info(outputs["reply_artifact"]).inputs

        again = r.run("ask")
        assert step(again, "ask").state.value == "cached"
        assert step(again, "ask").outputs == outputs
        assert len(server.requests) == 1  # a hit makes no request

        time.sleep(0.01)
        (ws / "src" / "a.txt").write_text("ALPHA\n", encoding="utf-8")
        edited = r.run("ask")
        assert step(edited, "ask").state.value == "completed"  # the attached file changed
        assert len(server.requests) == 2

    # the same melody and files, another model name at the endpoint: a miss
    with Run(ws, model(server, upstream="m2")) as r:
        assert step(r.run("ask"), "ask").state.value == "completed"
        assert server.requests[-1].body["model"] == "m2"
        assert len(server.requests) == 3
        assert step(r.run("ask"), "ask").state.value == "cached"
        assert len(server.requests) == 3
    # another endpoint: a miss, answered there
    with ModelServer() as other, Run(ws, model(other, upstream="m2")) as r:
        other.responder = lambda body: "elsewhere"
        rerun = r.run("ask")
        assert step(rerun, "ask").outputs["text"] == "elsewhere"
        assert len(other.requests) == 1
    # a changed default temperature: a miss
    with Run(ws, model(server, upstream="m2", max_tokens=50)) as r:
        assert step(r.run("ask"), "ask").state.value == "completed"
        assert server.requests[-1].body["max_tokens"] == 50
    # what does not change the answer (timeouts, prices) keeps the cache
    with Run(ws, model(server, upstream="m2", max_tokens=50, timeout_s=20)) as r:
        assert step(r.run("ask"), "ask").state.value == "cached"


EDIT = """
[melody]
name = "edit"

[[steps]]
id = "edit"
uses = "llm.edit"
with = { instruction = "Upper-case the words.", files = ["src/a.txt", "src/b.txt"] }
"""


def test_edit_proposes_changes_and_writes_nothing(ws: Path, server: ModelServer) -> None:
    server.responder = lambda body: (
        "=== FILE: src/b.txt ===\n```\nBETA\n```\n=== END FILE ===\n"
        "=== FILE: src/a.txt ===\nalpha\n=== END FILE ===\n"
        "Upper-cased beta; alpha was already fine.\n"
    )
    write_melody(ws, "edit", EDIT)
    with Run(ws, model(server)) as r:
        summary = r.run("edit")
        assert summary.state is RunState.COMPLETED, step(summary, "edit").error
        outputs = step(summary, "edit").outputs
        assert outputs["changes"] == [
            {
                "path": "src/b.txt",
                "before_sha256": hashlib.sha256(b"beta").hexdigest(),
                "after": "BETA",  # fence removed, the file's lack of a final newline kept
            }
        ]
        assert outputs["summary"] == "Upper-cased beta; alpha was already fine."
        assert (ws / "src" / "a.txt").read_text() == "alpha\n"
        assert (ws / "src" / "b.txt").read_text() == "beta"
        user = server.requests[0].body["messages"][1]["content"]
        assert "=== FILE: src/b.txt ===\nbeta\n=== END FILE ===" in user
        assert step(r.run("edit"), "edit").state.value == "cached"
        (ws / "src" / "b.txt").write_text("gamma", encoding="utf-8")
        assert step(r.run("edit"), "edit").state.value == "completed"
        assert len(server.requests) == 2


def test_a_reply_outside_the_edit_format_fails_the_step_clearly(
    ws: Path, server: ModelServer
) -> None:
    server.responder = lambda body: "Sure! Just change beta to BETA in src/b.txt."
    write_melody(ws, "edit", EDIT)
    with Run(ws, model(server)) as r:
        summary = r.run("edit")
        assert summary.state is RunState.FAILED
        error = step(summary, "edit").error
        assert "did not answer in the edit format" in error
        assert "no '=== FILE: path ===' block" in error
        assert "Sure! Just change beta" in error
        assert (ws / "src" / "b.txt").read_text() == "beta"


def test_no_model_configured_says_how_to_configure_one(ws: Path) -> None:
    write_melody(ws, "ask", CHAT)
    with Run(ws, []) as r:
        summary = r.run("ask")
        assert summary.state is RunState.FAILED
        error = step(summary, "ask").error
        assert "ModelNotConfigured" in error or "no AI model is configured" in error
        assert "symphony models add" in error


# --- the edit format, piece by piece -----------------------------------------------------------


def test_edit_format_parser_is_strict_about_structure() -> None:
    with pytest.raises(EditFormatError, match="never closed"):
        parse_reply("=== FILE: a.py ===\nx = 1\n")
    with pytest.raises(EditFormatError, match=r"before the block of a\.py"):
        parse_reply("=== FILE: a.py ===\nx\n=== FILE: b.py ===\ny\n=== END FILE ===\n")
    with pytest.raises(EditFormatError, match="second time"):
        parse_reply("=== DELETE: a.py ===\n=== FILE: a.py ===\n=== END FILE ===\n")
    with pytest.raises(EditFormatError, match="malformed marker"):
        parse_reply("=== FILE a.py ===\nx\n=== END FILE ===\n")
    with pytest.raises(EditFormatError, match="not a workspace-relative path"):
        parse_reply("=== FILE: ../etc/passwd ===\nx\n=== END FILE ===\n")
    assert parse_reply("=== NO CHANGES ===\nAll good.").summary == "All good."
    parsed = parse_reply("=== FILE: `new.md` ===\n```md\n# T\n```\n=== END FILE ===\n")
    with pytest.raises(EditFormatError, match="not one of the files given"):
        changes_of(parsed, {"a.md": b"x"}, allow_create=False, allow_delete=False, order=["a.md"])
    made = changes_of(parsed, {"a.md": b"x"}, allow_create=True, allow_delete=False, order=["a.md"])
    assert made == [{"path": "new.md", "before_sha256": None, "after": "# T\n"}]
    # a Markdown file that itself begins with a fence keeps it
    fenced = parse_reply("=== FILE: a.md ===\n```\ncode\n```\n=== END FILE ===\n")
    kept = changes_of(
        fenced, {"a.md": b"```\nold\n```\n"}, allow_create=False, allow_delete=False, order=[]
    )
    assert kept[0]["after"] == "```\ncode\n```\n"
    deleting = parse_reply("=== DELETE: a.md ===\nRemoved it.")
    with pytest.raises(EditFormatError, match="allow_delete"):
        changes_of(deleting, {"a.md": b"x"}, allow_create=False, allow_delete=False, order=[])
    gone = changes_of(deleting, {"a.md": b"x"}, allow_create=False, allow_delete=True, order=[])
    assert gone == [
        {"path": "a.md", "before_sha256": hashlib.sha256(b"x").hexdigest(), "after": None}
    ]


def test_streamed_pieces_never_carry_a_secret_split_across_them() -> None:
    secrets.register(KEY)
    out: list[str] = []
    redactor = DeltaRedactor(out.append)
    text = f"the key is {KEY}, and {KEY[:5]} alone is fine"
    for i in range(0, len(text), 3):
        redactor.feed(text[i : i + 3])
    redactor.flush()
    assert "".join(out) == f"the key is [redacted], and {KEY[:5]} alone is fine"
    assert all(KEY[:10] not in piece for piece in out)


# --- third-party extensions calling ctx.models -------------------------------------------------

PROBE_STEPS = """
[[contributes.steps]]
type = "probe.ask"
cacheable = false
[contributes.steps.inputs]
prompt = { type = "string", required = true }
model = { type = "string" }
[contributes.steps.outputs]
text = { type = "string" }
streamed = { type = "string" }
names = { type = "string" }
model = { type = "string" }
env_key = { type = "string" }
pid = { type = "integer" }
"""

PROBE = f"""
import os

class Ext(Operator):
    @step("probe.ask")
    def ask(self, ctx, inputs):
        pieces = []
        reply = ctx.models.chat(
            [{{"role": "user", "content": inputs["prompt"]}}],
            model=inputs.get("model"),
            stream=True,
            on_delta=pieces.append,
        )
        ctx.log.warning("model said: %s", reply.text)
        return {{
            "text": reply.text,
            "streamed": "".join(pieces),
            "names": ",".join(ctx.models.names()),
            "model": reply.model,
            "env_key": str(os.environ.get("{KEY_VAR}")),
            "pid": os.getpid(),
        }}
"""

PROBE_MELODY = """
[melody]
name = "probe"

[[steps]]
id = "probe"
uses = "probe.ask"
with = { prompt = "hello there", model = "MODEL" }
"""


def probe_extension(tmp_path: Path, isolation: str) -> list[str]:
    exts = tmp_path / "exts"
    write_extension(
        exts,
        "probe",
        PROBE,
        steps=PROBE_STEPS,
        permissions='models = ["local"]',
        runtime=f'isolation = "{isolation}"',
    )
    return [f"extensions.dirs=[{json.dumps(str(exts))}]"]


@pytest.mark.parametrize("isolation", ["process", "in-process"])
def test_an_extension_calls_the_models_it_is_granted_and_no_other(
    ws: Path, tmp_path: Path, server: ModelServer, isolation: str
) -> None:
    import os

    overrides = [*probe_extension(tmp_path, isolation), *model(server), *model(server, "other")]
    write_melody(ws, "probe", PROBE_MELODY.replace("MODEL", "local"))
    write_melody(ws, "denied", PROBE_MELODY.replace("MODEL", "other"))
    with Run(ws, overrides) as r:
        ok = r.run("probe")
        assert ok.state is RunState.COMPLETED, step(ok, "probe").error
        outputs = step(ok, "probe").outputs
        assert outputs["text"] == "echo: hello there"
        assert outputs["streamed"] == "echo: hello there"  # pieces as they came
        assert server.requests[0].body["stream"] is True
        assert outputs["names"] == "local"  # "other" is configured but not granted
        assert outputs["model"] == "local"
        assert (outputs["pid"] != os.getpid()) is (isolation == "process")

        denied = r.run("denied")
        assert denied.state is RunState.FAILED
        error = step(denied, "probe").error
        assert "extension 'probe' is not allowed models on 'other' (granted: local)" in error
        assert len(server.requests) == 1  # refused before any request
        manager = r.engine.extensions
        manager.audit.flush()
        assert manager._db is not None
        records = manager._db.audit("probe", limit=100)
        assert ("models", "local", "allowed") in {
            (a.permission, a.target, a.decision) for a in records
        }
        assert ("models", "other", "denied") in {
            (a.permission, a.target, a.decision) for a in records
        }
        assert any(a.permission == "models.usage" and "11+7 tokens" in a.detail for a in records)


SLOW = """
[melody]
name = "slow"

[[steps]]
id = "ask"
uses = "llm.chat"
with = { prompt = "take your time" }
"""


def test_cancelling_a_run_cuts_the_model_call(ws: Path, server: ModelServer) -> None:
    from tests.support.model_server import Behaviour

    # Streamed: the reply begins, then the provider goes quiet.
    server.then(Behaviour(text="first then nothing", stall_mid_stream=30))
    write_melody(ws, "slow", SLOW)
    with Run(ws, model(server, timeout_s=60)) as r:
        job = r.runner.new_run("slow", {})
        stop = threading.Event()
        done: list[Any] = []
        worker = threading.Thread(target=lambda: done.append(job.execute(stop)))
        worker.start()
        deadline = time.monotonic() + 10
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.requests
        t0 = time.monotonic()
        stop.set()
        worker.join(10)
        assert not worker.is_alive()
        assert time.monotonic() - t0 < 5
        assert step(done[0], "ask").state.value == "cancelled"


# --- secrets -------------------------------------------------------------------------------------

LEAK = """
[melody]
name = "leak"

[[steps]]
id = "chat"
uses = "llm.chat"
with = { prompt = "What is my key?" }

[[steps]]
id = "edit"
uses = "llm.edit"
with = { instruction = "Write the key into the file.", files = ["src/a.txt"] }

[[steps]]
id = "probe"
uses = "probe.ask"
with = { prompt = "and again", model = "local" }

[[steps]]
id = "shout"
uses = "shell.run"
with = { command = "printf 'sk-llm-test-5ecret-'; printf '0123456789abcdef'" }
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, envelope: Envelope) -> None:
        with self._lock:
            self.events.append(envelope.payload)

    def of(self, cls: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, cls)]


def test_the_api_key_never_reaches_artifacts_stores_logs_or_step_logs(
    ws: Path,
    tmp_path: Path,
    server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    isolated_home: Path,
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)

    def echo_header(body: dict[str, Any]) -> str:
        request = next(r for r in server.requests if r.body is body)  # steps run in parallel
        auth = request.headers.get("authorization", "")
        if "=== FILE: src/a.txt ===" in json.dumps(body):
            return f"=== FILE: src/a.txt ===\nkey = {auth}\n=== END FILE ===\nWrote {auth} in.\n"
        return f"Your header was {auth}, the key {auth.removeprefix('Bearer ')}."

    server.responder = echo_header
    write_melody(ws, "leak", LEAK)
    overrides = [*probe_extension(tmp_path, "process"), *model(server, api_key_env=KEY_VAR)]
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG", to_file=True)
    try:
        engine = Engine(ws, watch_config=False, overrides=overrides)
        engine.start()
        recorder = Recorder()
        engine.subscribe(recorder, "evt.*")
        try:
            engine.send(StartRun(target="leak", ask_on_failure=False))
            deadline = time.monotonic() + 60
            while not recorder.of(RunFinished) and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = recorder.of(RunFinished)
            assert finished and finished[0].state == "completed", finished
            store = engine.pit.store()
            hits = store.search("", limit=1000)
            texts = [store.get_bytes(hit.hash) for hit in hits]
        finally:
            engine.stop()
    finally:
        for name in ("engine", "symphony_tui", "symphony_cli"):
            logger = logging.getLogger(name)
            for handler in [h for h in logger.handlers if getattr(h, "_symphony_handler", False)]:
                logger.removeHandler(handler)
                handler.close()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)

    # the key went to the provider, and only there
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert len(server.requests) == 3
    # artifacts: every one, read through the store (blobs may be compressed on disk)
    assert texts and not [t for t in texts if KEY.encode() in t]
    assert any(b"[redacted]" in t for t in texts)
    # every file Symphony wrote: run store, artifact store, registry and audit, log file
    written = [p for root in (ws, isolated_home) for p in root.rglob("*") if p.is_file()]
    assert log_file() in written
    leaked = [p for p in written if KEY.encode() in p.read_bytes()]
    assert leaked == []
    # step logs and captured records
    logs = recorder.of(StepLog)
    assert any("[redacted]" in entry.message for entry in logs), logs
    assert not [entry for entry in logs if KEY in entry.message]
    assert not [rec for rec in caplog.records if KEY in rec.getMessage()]
    assert not [e for e in recorder.events if KEY in repr(e)]
    # a step that is no AI at all printed the key: its outputs are kept redacted (the file
    # scan above covers runs.db and the cache)
    assert KEY[:10] in LEAK and KEY not in LEAK
