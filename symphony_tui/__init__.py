"""Symphony's Textual application.

Only this package imports Textual. It talks to the engine exclusively through the bridge
(:mod:`symphony_tui.bridge`), with typed commands and events.
"""

from __future__ import annotations
