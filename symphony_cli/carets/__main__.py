"""``python -m symphony_cli.carets``: the carets command (``carets dev`` runs checks this way)."""

from __future__ import annotations

from symphony_cli.carets import main

main()
