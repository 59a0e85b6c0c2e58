"""Turning the report plugin's JSON lines into ``pytest.run``'s outputs.

:class:`RunRecords` reads the file incrementally (while pytest runs, for progress, and once
more at the end) and folds each test's setup/call/teardown phases into one outcome, the way
pytest's own summary does: a failure in setup or teardown makes the test an *error*, an
expected failure is *xfailed*, an unexpected pass *xpassed*. It does no I/O but reading that
one file and knows nothing of the extension API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_MESSAGE",
    "RunRecords",
    "TestEntry",
    "format_report",
    "format_summary",
    "tail_lines",
    "truncate",
]

MAX_MESSAGE = 8 * 1024  # characters of failure text kept per test
MAX_REPORT = 64 * 1024  # characters of failure listings in the text report

PROBLEMS = ("failed", "error")
# Order of pytest's own summary line.
COUNTED = ("failed", "passed", "skipped", "xfailed", "xpassed", "error")


@dataclass
class TestEntry:
    """One test (or collector that failed) and what happened to it."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    nodeid: str
    outcome: str | None = None  # None until its call phase (or a failing setup) is seen
    duration_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    finished: bool = False

    def as_output(self, relative: str) -> dict[str, Any]:
        return {
            "nodeid": relative,
            "outcome": self.outcome or "error",
            "duration_s": round(self.duration_s, 6),
            "message": truncate("\n".join(self.messages), MAX_MESSAGE),
        }


class RunRecords:
    """What the plugin has written so far to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = False
        self.rootdir: Path | None = None
        self.collected: int | None = None
        self.exit_status: int | None = None
        self.running: str | None = None
        self.tests: dict[str, TestEntry] = {}
        self._offset = 0
        self._partial = b""

    @property
    def finished_count(self) -> int:
        return sum(1 for t in self.tests.values() if t.finished)

    def poll(self) -> None:
        """Read the records appended since the last call."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return  # the plugin has not started yet
        lines = (self._partial + data).split(b"\n")
        partial = lines.pop()  # an incomplete last line waits for the next poll
        try:
            records = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as e:
            raise ValueError(f"unreadable record in {self.path}: {e}") from e
        self._offset += len(data)
        self._partial = partial
        for rec in records:
            self._add(rec)

    def _add(self, rec: dict[str, Any]) -> None:
        event = rec.get("event")
        if event == "start":
            self.started = True
            self.rootdir = Path(rec["rootdir"])
        elif event == "collected":
            self.collected = int(rec["count"])
        elif event == "running":
            self.running = str(rec["nodeid"])
        elif event == "finish":
            self.exit_status = int(rec["exitstatus"])
        elif event == "collect":
            entry = self._entry(str(rec["nodeid"]))
            entry.outcome = "error" if rec["outcome"] == "failed" else "skipped"
            entry.messages.append(str(rec.get("message") or ""))
            entry.finished = True
        elif event == "test":
            self._phase(rec)

    def _entry(self, nodeid: str) -> TestEntry:
        entry = self.tests.get(nodeid)
        if entry is None:
            entry = self.tests[nodeid] = TestEntry(nodeid)
        return entry

    def _phase(self, rec: dict[str, Any]) -> None:
        entry = self._entry(str(rec["nodeid"]))
        when, outcome = rec["when"], rec["outcome"]
        reason = rec.get("wasxfail")
        xfail = reason is not None
        message = str(rec.get("message") or "")
        if xfail and outcome != "failed":
            # An expected failure's traceback is no news; its reason is.
            message = f"xfail: {reason}" if reason else "xfail"
        entry.duration_s += float(rec.get("duration") or 0.0)
        if when == "call":
            if outcome == "passed":
                result = "xpassed" if xfail else "passed"
            elif outcome == "failed":
                result = "failed"
            else:
                result = "xfailed" if xfail else "skipped"
            if entry.outcome != "error":
                entry.outcome = result
            if message:
                entry.messages.append(message)
            return
        if outcome == "failed":
            # An error in setup or teardown; a test that already failed stays failed.
            if entry.outcome != "failed":
                entry.outcome = "error"
            entry.messages.append(f"[error in {when}]\n{message}".rstrip())
        elif outcome == "skipped" and when == "setup":
            entry.outcome = "xfailed" if xfail else "skipped"
            if message:
                entry.messages.append(message)
        if when == "teardown":
            entry.finished = True
            if entry.outcome is None:
                entry.outcome = "error"
                entry.messages.append("the test did not report a result")

    def relative_nodeid(self, nodeid: str, workspace: Path) -> str:
        """``nodeid`` relative to the workspace instead of pytest's rootdir.

        Such ids can be passed back as ``paths`` (the step runs pytest in the workspace).
        """
        if self.rootdir is None:
            return nodeid
        path, sep, rest = nodeid.partition("::")
        full = (self.rootdir / path) if path else self.rootdir
        try:
            rel = full.resolve().relative_to(workspace).as_posix()
        except ValueError:
            return nodeid
        return rel + sep + rest

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for entry in self.tests.values():
            counts[entry.outcome or "error"] += 1
        return counts


def format_summary(counts: dict[str, int], duration_s: float, note: str = "") -> str:
    """A one-line summary in pytest's style: ``1 failed, 3 passed in 0.52s``."""
    parts = []
    for outcome in COUNTED:
        n = counts.get(outcome, 0)
        if n:
            word = "errors" if outcome == "error" and n > 1 else outcome
            parts.append(f"{n} {word}")
    text = ", ".join(parts) or "no tests ran"
    text += f" in {duration_s:.2f}s"
    return f"{text} ({note})" if note else text


def format_report(
    summary: str, status: str, exit_code: int, failures: list[dict[str, Any]], detail: str
) -> str:
    """The text report a person or a model reads: the summary, then each failure's text."""
    lines = [f"pytest: {status} (exit code {exit_code}): {summary}"]
    size = 0
    for i, failure in enumerate(failures):
        if size > MAX_REPORT:
            lines += ["", f"… and {len(failures) - i} more failures (see the `failures` output)"]
            break
        word = "FAILED" if failure["outcome"] == "failed" else "ERROR"
        block = f"\n===== {word} {failure['nodeid']} =====\n{failure['message'].rstrip()}"
        lines.append(block)
        size += len(block)
    if detail:
        lines += ["", "----- pytest output (tail) -----", detail.rstrip()]
    return "\n".join(lines) + "\n"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and (mostly) its end."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[… {cut} characters cut …]\n{text[-tail:]}"


def tail_lines(text: str, count: int) -> str:
    """The last ``count`` lines of ``text``."""
    lines = text.splitlines()
    if len(lines) <= count:
        return text
    return f"[… {len(lines) - count} lines cut …]\n" + "\n".join(lines[-count:]) + "\n"
