"""The accept loop of a server: take connections until woken, back off when accept() fails.

When the process is out of file descriptors (``EMFILE``) a pending connection cannot be taken
and the listener stays readable, so a loop that simply retried would spin a core and write a
log line each time: it pauses instead (doubling up to a second, and still woken at once by
``close``) and logs the failure once, then at most every ten seconds with a count. This module
must not authenticate or serve connections.
"""

from __future__ import annotations

import logging
import selectors
from typing import TYPE_CHECKING

from engine.ipc.ratelimit import LogThrottle

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from engine.ipc.transport import Listener

logger = logging.getLogger("engine.ipc.server")

BACKOFF_MIN_S, BACKOFF_MAX_S = 0.01, 1.0  # pause after a failed accept(), doubling


def accept_loop(
    listener: Listener, wake: socket.socket, admit: Callable[[socket.socket], None], name: str
) -> None:
    """Hand each connection to ``admit`` until ``wake`` becomes readable.

    Args:
        listener: where connections arrive.
        wake: readable once the server closes.
        admit: takes over an accepted connection (runs on this thread: must not block).
        name: the server's name, for the log.
    """
    failures = LogThrottle(0.1, 1)
    backoff = 0.0
    with selectors.DefaultSelector() as selector, selectors.DefaultSelector() as waker:
        # Both made now: out of descriptors, a selector could not be made when it is needed.
        selector.register(listener.fileno(), selectors.EVENT_READ, "listener")
        selector.register(wake, selectors.EVENT_READ, "wake")
        waker.register(wake, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.data == "wake":
                    return
                try:
                    sock = listener.accept()
                except BlockingIOError:
                    continue  # the connection went away before we took it
                except OSError as e:
                    backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
                    suppressed = failures.allow()
                    if suppressed is not None:
                        more = f" ({suppressed} more since the last report)" if suppressed else ""
                        logger.warning("IPC server %r: accept failed: %s%s", name, e, more)
                    if waker.select(backoff):
                        return
                    continue
                backoff = 0.0
                admit(sock)
