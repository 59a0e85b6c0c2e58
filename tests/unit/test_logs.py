"""Log routing: a file under the TUI (never the terminal), stderr for headless commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from engine.logs import LOGGERS, configure_logging, log_file


@pytest.fixture(autouse=True)
def restore_loggers() -> Iterator[None]:
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in LOGGERS}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        for h in logger.handlers:
            if h not in handlers:
                h.close()
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = True


def test_tui_logs_go_to_the_user_log_file_not_the_terminal(
    capsys: pytest.CaptureFixture[str], isolated_home: object
) -> None:
    path = configure_logging("info", to_file=True)
    assert path == log_file()
    assert str(path).startswith(str(isolated_home))
    logging.getLogger("engine.bus.subscription").error("handler exploded")
    logging.getLogger("engine.config").debug("too chatty")
    for handler in logging.getLogger("engine").handlers:
        handler.flush()
    text = path.read_text()
    assert "ERROR" in text and "engine.bus.subscription" in text and "handler exploded" in text
    assert "too chatty" not in text
    assert capsys.readouterr().err == ""


def test_cli_logs_go_to_stderr_and_reconfiguring_replaces_the_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("warning", to_file=False)
    configure_logging("warning", to_file=False)
    logging.getLogger("engine.pit").warning("disk nearly full")
    logging.getLogger("engine.pit").info("fine")
    err = capsys.readouterr().err
    assert err.count("disk nearly full") == 1
    assert "fine" not in err
