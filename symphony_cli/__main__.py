"""``python -m symphony_cli`` is the same as ``symphony``."""

from __future__ import annotations

from symphony_cli.main import main

main()
