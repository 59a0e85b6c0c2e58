"""Where Symphony's log records go: a rotating file under the TUI, stderr for the CLI.

Under the TUI nothing may write to the terminal, so records of the ``engine`` and
``symphony_tui`` loggers go to ``<user log dir>/symphony.log`` (rotated at 1 MiB, 3 kept); a
headless command sends them to stderr, which is narration by contract. ``core.log_level``
sets the threshold in both cases. This module configures logging only; it never logs itself.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import platformdirs

from engine.instruments.secrets import RedactingFilter

LOGGERS = ("engine", "symphony_tui", "symphony_cli")
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
_MARK = "_symphony_handler"


def log_file() -> Path:
    """The TUI's log file (the platform's user log folder, e.g. ``~/.local/state/symphony/log``)."""
    return Path(platformdirs.user_log_dir("symphony", appauthor=False)) / "symphony.log"


def configure_logging(level: str, *, to_file: bool) -> Path | None:
    """Route Symphony's loggers to the log file (``to_file``) or to stderr.

    Calling it again replaces the handler it installed before. Returns the log file, if used.
    """
    path: Path | None = None
    handler: logging.Handler
    if to_file:
        path = log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1 << 20, backupCount=3, encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    setattr(handler, _MARK, True)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
    return path
