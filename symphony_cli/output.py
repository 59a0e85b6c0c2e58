"""Output conventions: stdout is data, stderr is narration and errors (SPEC §1)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from engine.types.errors import ConfigErrors, SymphonyError


def out(text: str = "") -> None:
    """Write a line of data to stdout."""
    sys.stdout.write(text + "\n")


def say(text: str) -> None:
    """Write a line of narration to stderr."""
    sys.stderr.write(text + "\n")


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(error: SymphonyError) -> NoReturn:
    """Report an error on stderr and exit with its exit code."""
    if isinstance(error, ConfigErrors):
        say(f"symphony: error: invalid configuration ({len(error.errors)} problems):")
        for e in error.errors:
            say(f"  {e.message}")
    else:
        say(f"symphony: error: {error.message}")
    sys.stdout.flush()
    raise SystemExit(error.exit_code)
