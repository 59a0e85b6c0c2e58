"""Built-in motif: a test-results panel fed by the outputs of ``pytest.run`` steps.

Every melody step's outputs are stored as a JSON artifact tagged ``step-output`` with the
step's extension as producer, so the latest ``pytest.run`` results are the newest such artifact
made by ``symphony.pytest``. The panel shows that run's totals, a table of its failures (a
filter narrows it; selecting a row shows the failure's text) and a picker of earlier runs. It is
written only against the public SDK (``symphony_sdk``) and reads the store again when the panel
opens and when *Refresh* is pressed (a motif is not told about new artifacts).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from symphony_sdk import Motif

if TYPE_CHECKING:
    from symphony_sdk import ArtifactRef, ExtensionContext
    from symphony_sdk.vdom import Element, JSONValue, UiEvent

from symphony_sdk.vdom import h

__all__ = ["PRODUCER", "TestDashboard"]

#: The extension whose step outputs the panel shows.
PRODUCER = "symphony.pytest"
#: Lines of a failure's text shown under the table.
DETAIL_LINES = 12
#: Characters of a failure's first line shown in the table.
MESSAGE_CHARS = 120


class TestDashboard(Motif):
    """The *Tests* panel."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self) -> None:
        self.ctx: ExtensionContext | None = None
        self.runs: list[ArtifactRef] = []
        self.chosen: str | None = None  # the hash picked in the run picker; None: the latest
        self.report: dict[str, Any] | None = None
        self.problem = ""
        self.filter = ""
        self.selected: str | None = None  # the node id whose failure text is shown

    def activate(self, ctx: ExtensionContext) -> None:
        self.ctx = ctx

    # --- data --------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the list of runs and the chosen (or latest) run's outputs from the store."""
        ctx = self.ctx
        if ctx is None:
            return
        limit = int(ctx.settings.get("runs") or 20)
        self.runs = ctx.artifacts.find(tags=["step-output"], producer=PRODUCER, limit=limit)
        hashes = [ref.hash for ref in self.runs]
        if self.chosen not in hashes:
            self.chosen = None
        current = self.chosen or (hashes[0] if hashes else None)
        self.report, self.problem = None, ""
        if current is None:
            return
        try:
            report = json.loads(ctx.artifacts.get_bytes(current))
        except (ValueError, UnicodeDecodeError) as e:
            self.problem = f"the run's outputs are not readable JSON: {e}"
            return
        if not isinstance(report, dict) or not isinstance(report.get("tests"), list):
            self.problem = "the artifact does not hold pytest.run outputs"
            return
        self.report = report

    # --- the panel ---------------------------------------------------------------------------

    def render(self, panel: str) -> Element:
        self.load()
        return h(
            "vertical",
            self._summary(),
            self._controls(),
            self._failures(),
            self._detail(),
            key="dashboard",
        )

    def on_event(self, panel: str, event: UiEvent) -> None:
        if event.key == "filter" and event.kind in ("change", "submit"):
            self.filter = str(event.value or "")
        elif event.key == "run" and event.kind == "select":
            self.chosen = self._hash_of(event.value)
            self.selected = None
        elif event.kind == "select" and event.path[:1] == ("failures",):
            self.selected = None if event.key == self.selected else event.key
        elif event.key == "clear" and event.kind == "press":
            self.filter, self.selected = "", None
        # "refresh": rendering again reads the store again; nothing else to do.

    def _summary(self) -> Element:
        report = self.report
        if report is None:
            text = self.problem or (
                "No pytest.run results yet: run a melody with a pytest.run step, then press"
                " Refresh."
            )
            return h(
                "horizontal",
                h("label", text, key="empty", tone="error" if self.problem else "muted"),
                key="summary",
            )
        failed = _count(report, "failed") + _count(report, "errors")
        status = str(report.get("status", "?"))
        tone = {"passed": "success", "failed": "error", "error": "error"}.get(status, "warning")
        show_time = bool(self.ctx is not None and self.ctx.settings.get("show_durations", True))
        duration = report.get("duration_s")
        return h(
            "horizontal",
            h("label", status.replace("_", " ").upper(), key="status", tone=tone, bold=True),
            h("label", f"{_count(report, 'passed')} passed", key="passed", tone="success"),
            h("label", f"{failed} failed", key="failed", tone="error" if failed else "muted"),
            h("label", f"{_count(report, 'skipped')} skipped", key="skipped", tone="muted"),
            h("label", f"in {duration:.2f} s", key="duration", tone="muted")
            if show_time and isinstance(duration, int | float)
            else None,
            key="summary",
        )

    def _controls(self) -> list[Element]:
        options: list[JSONValue] = [_label(ref, i) for i, ref in enumerate(self.runs)]
        current = self.chosen or (self.runs[0].hash if self.runs else None)
        value = next(
            (o for o, r in zip(options, self.runs, strict=True) if r.hash == current), None
        )
        filtering = h(
            "horizontal",
            h("input", key="filter", value=self.filter, placeholder="Filter failures"),
            h("button", key="clear", label="Clear", disabled=not (self.filter or self.selected)),
            key="filtering",
        )
        runs = h(
            "horizontal",
            h(
                "select",
                key="run",
                options=options,
                value=value,
                placeholder="No runs",
                disabled=not options,
            ),
            h("button", key="refresh", label="Refresh", variant="primary"),
            key="runs",
        )
        return [runs, filtering]

    def _failures(self) -> Element:
        failures = self._shown()
        rows = [
            h(
                "row",
                key=str(t["nodeid"]),
                cells=[str(t["nodeid"]), str(t.get("outcome", "?")), _first_line(t)],
            )
            for t in failures
        ]
        return h("table", rows, key="failures", columns=["failing test", "outcome", "message"])

    def _detail(self) -> Element | None:
        if self.report is None:
            return None
        failures = [t for t in self._problems() if t["nodeid"] == self.selected]
        if not failures:
            total = len(self._problems())
            shown = len(self._shown())
            text = (
                "No failures."
                if not total
                else f"{shown} of {total} failures shown. Select one to read its text."
            )
            return h("label", text, key="hint", tone="muted")
        lines = str(failures[0].get("message") or "(no text)").splitlines()
        if len(lines) > DETAIL_LINES:
            lines = [*lines[:DETAIL_LINES], f"… {len(lines) - DETAIL_LINES} more lines"]
        return h("label", "\n".join(lines), key="detail")

    # --- helpers -----------------------------------------------------------------------------

    def _problems(self) -> list[dict[str, Any]]:
        if self.report is None:
            return []
        tests = self.report.get("tests") or []
        return [
            t
            for t in tests
            if isinstance(t, dict) and "nodeid" in t and t.get("outcome") in ("failed", "error")
        ]

    def _shown(self) -> list[dict[str, Any]]:
        needle = self.filter.strip().lower()
        return [
            t
            for t in self._problems()
            if not needle or needle in str(t["nodeid"]).lower() or needle in _first_line(t).lower()
        ]

    def _hash_of(self, label: object) -> str | None:
        for i, ref in enumerate(self.runs):
            if _label(ref, i) == label:
                return ref.hash
        return None


def _count(report: dict[str, Any], name: str) -> int:
    value = report.get(name)
    return value if isinstance(value, int) else 0


def _first_line(test: dict[str, Any]) -> str:
    message = str(test.get("message") or "").strip()
    # pytest puts the assertion last ("E   assert 1 == 2"); that line says most.
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    line = errors[0] if errors else lines[-1] if lines else ""
    line = line.removeprefix("E").strip()
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


def _label(ref: ArtifactRef, index: int) -> str:
    name = ref.name or ref.hash[:12]
    return f"{name} (latest)" if index == 0 else name
