"""The configuration reference in docs/ is generated from the models and never drifts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.config import SymphonyConfig, reference_markdown
from engine.config.loader import flatten

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
REGENERATE = "python -m engine.config.reference > docs/configuration.md"


def test_doc_matches_the_models() -> None:
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        f"docs/configuration.md is out of date; regenerate it with `{REGENERATE}`"
    )


def test_every_key_is_documented() -> None:
    doc = reference_markdown()
    for key in flatten(SymphonyConfig().model_dump()):
        assert f"| `{key}` |" in doc, key
    for key in ("aide.models.<name>.base_url", "aide.models.<name>.timeout_s"):
        assert f"| `{key}` |" in doc, key


def test_module_prints_the_reference() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "engine.config.reference"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == reference_markdown()
