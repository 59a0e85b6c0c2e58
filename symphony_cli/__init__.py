"""The ``symphony`` command line: headless commands plus the launcher of the TUI.

Importing this package must stay cheap: ``symphony --help`` never imports Textual, the UI or
extensions (a test checks ``sys.modules``).
"""

from __future__ import annotations
