"""A pytest plugin that records what happens to each test as JSON lines, for ``pytest.run``.

``pytest.run`` copies this file into the step's scratch folder and loads it with ``-p`` in the
interpreter that runs the tests, which may not have Symphony installed: it must import only the
standard library and pytest, and work with any pytest from 7 on. It appends one JSON object per
line to the file named by ``SYMPHONY_PYTEST_REPORT`` (flushed at once, so the step can follow
progress) and must not change how the tests run or what pytest prints.

Records, by ``event``: ``start`` (the rootdir node ids are relative to), ``collected`` (how many
tests will run), ``collect`` (a collector that failed or was skipped), ``running`` (a test
started), ``test`` (one setup/call/teardown phase of a test) and ``finish`` (the exit status).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

REPORT_ENV = "SYMPHONY_PYTEST_REPORT"


class _Recorder:
    def __init__(self, path: str) -> None:
        # Open for the whole session (closed at unconfigure), appending: records are flushed
        # one by one so the step can follow progress while pytest runs.
        self._out: IO[str] = Path(path).open("a", encoding="utf-8")  # noqa: SIM115

    def write(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.write({"event": "start", "rootdir": str(session.config.rootpath)})

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.write({"event": "collected", "count": len(session.items)})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed or report.skipped:
            self.write(
                {
                    "event": "collect",
                    "nodeid": report.nodeid,
                    "outcome": report.outcome,
                    "message": _message(report),
                }
            )

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.write({"event": "running", "nodeid": nodeid})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        wasxfail = getattr(report, "wasxfail", None)
        self.write(
            {
                "event": "test",
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "duration": report.duration,
                "wasxfail": None if wasxfail is None else str(wasxfail),
                "message": _message(report),
            }
        )

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self.write({"event": "finish", "exitstatus": int(exitstatus)})


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure text (with captured output) or the skip reason of a report."""
    if report.failed:
        parts = [report.longreprtext]
        parts += [f"----- {title} -----\n{content}" for title, content in report.sections]
        return "\n".join(p for p in parts if p)
    if report.skipped:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            return str(longrepr[2])  # (file, line, "Skipped: reason")
        return report.longreprtext
    return ""


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(REPORT_ENV)
    # pytest-xdist workers relay their reports to the controller, which records them once.
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Recorder(path), "symphony-pytest-report")


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.pluginmanager.get_plugin("symphony-pytest-report")
    if isinstance(recorder, _Recorder):
        recorder.close()
