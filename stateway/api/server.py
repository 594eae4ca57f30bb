"""`stateway serve`: the engine, its workers and the Step Functions HTTP API in one process."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Mapping
from types import FrameType

from stateway.api.actions import StepFunctionsApi
from stateway.api.app import StepFunctionsApp
from stateway.asl.errors import StatewayError
from stateway.workers.python import DEFAULT_TIMEOUT_SECONDS, Handler

BACKLOG = 2048  # uvicorn's default


class CannotListen(StatewayError):
    """The address to serve on cannot be bound: a port in use or not ours, a host that does not resolve."""


def serve(host: str = "127.0.0.1", port: int = 8083, db: str = "sqlite:///.stateway/stateway.db", *,
          functions: Mapping[str, Handler] | None = None, workers: int = 8,
          function_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, log_level: str = "warning",
          object_store: str | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; uvicorn finishes requests in flight, then the engine stops.

    Tasks still running when the engine stops stay stored and run again on the next start.
    """
    import uvicorn

    from stateway.engine.runtime import Engine

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Bound before anything else: an address that cannot be had fails alone, before the engine opens the
    # store, and the banner below names a server that clients can already reach.
    sockets = listen(host, port)
    try:
        engine = Engine(db, functions=functions, workers=workers, function_timeout_seconds=function_timeout_seconds,
                        object_store=object_store)
        engine.start()  # recovers whatever a previous process left running
    except BaseException:
        _close(sockets)
        raise
    actions = StepFunctionsApi(engine)
    app = StepFunctionsApp(actions)

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            end_polls_soon(actions)  # end long polls at once, so that the graceful shutdown is short
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after its shutdown; ours is a requested stop, so exit 0 instead.
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", backlog=BACKLOG,
                            timeout_graceful_shutdown=5, server_header=False)
    server = _Server(config)
    bound = _address(host, sockets[0].getsockname()[1])  # the port chosen for --port 0
    print(f"stateway: serving the Step Functions API on http://{bound} (database {db})", file=sys.stderr,
          flush=True)
    try:
        server.run(sockets=sockets)
    finally:
        _close(sockets)
        app.close()  # ends long polls so that in-flight requests can finish
        engine.stop()
        engine.store.close()
        print("stateway: stopped", file=sys.stderr, flush=True)
    return 0


def end_polls_soon(actions: StepFunctionsApi) -> None:
    """End the waiting GetActivityTask polls, from a signal handler: on a thread of its own, since the
    handler runs in the main thread between two of its bytecodes — maybe while that thread holds the lock
    of the polls' bell (a poll leaving it), which ending them takes."""
    threading.Thread(target=actions.end_polls, name="stateway-end-polls", daemon=True).start()


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on every address `host` resolves to, bound as uvicorn's asyncio would bind them."""
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise CannotListen(f"cannot listen on {_address(host, port)}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(found):  # each once, in order
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio does: the port's IPv4 side is the AF_INET socket's
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        _close(sockets)
        raise CannotListen(f"cannot listen on {_address(host, port)}: {exc.strerror}") from None
    return sockets


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
