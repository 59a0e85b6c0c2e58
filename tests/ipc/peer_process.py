"""A real child process on the other end of the IPC bus, for the process tests.

``python peer_process.py client NAME HEARTBEAT_S`` connects to the server named by the
``SYMPHONY_IPC_*`` variables, serves a few methods and prints ``ready``; ``python peer_process.py
server TRANSPORT HEARTBEAT_S`` runs a server and prints its address and hex secret as JSON;
``lowfd`` instead of ``server`` does the same, then leaves the process only four spare file
descriptors and logs warnings to stderr. All run until their stdin closes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from engine.ipc import Client, Peer, Server, Settings


def serve_as_client(name: str, settings: Settings) -> None:
    client = Client.from_env(name=name, settings=settings)
    client.handle("child.pid", lambda _peer, _params: os.getpid())
    client.handle("child.echo", lambda _peer, params: params)

    def ask_server(peer: Peer, params: Any) -> Any:
        # A call back to the server from inside a call from the server.
        return peer.call("server.add", params)

    client.handle("child.ask_server", ask_server)
    with client.connect():
        print("ready", flush=True)
        sys.stdin.read()


def serve_as_server(transport: str, settings: Settings) -> None:
    with Server(transport, name="child", settings=settings) as server:
        server.handle("echo", lambda _peer, params: params)
        print(json.dumps({"address": server.address, "secret": server.secret.hex()}), flush=True)
        sys.stdin.read()


def serve_with_few_descriptors(transport: str, settings: Settings) -> None:
    import resource

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with Server(transport, name="lowfd", settings=settings) as server:
        in_use = len(list(Path("/proc/self/fd").iterdir()))
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 4, hard))
        # Only now: a client told the address earlier could be served before the limit.
        print(json.dumps({"address": server.address, "secret": server.secret.hex()}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    mode, arg, beat = sys.argv[1], sys.argv[2], float(sys.argv[3])
    tunables = Settings(heartbeat_s=beat)
    if mode == "client":
        serve_as_client(arg, tunables)
    elif mode == "lowfd":
        serve_with_few_descriptors(arg, tunables)
    else:
        serve_as_server(arg, tunables)
