"""`stateway serve`: the engine, its workers and the Step Functions HTTP API in one process."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import FrameType

from stateway.api.actions import StepFunctionsApi
from stateway.api.app import StepFunctionsApp
from stateway.workers.python import Handler


def serve(host: str = "127.0.0.1", port: int = 8083, db: str = "sqlite:///.stateway/stateway.db", *,
          functions: Mapping[str, Handler] | None = None, workers: int = 8, log_level: str = "warning") -> int:
    """Run until Ctrl-C or SIGTERM; uvicorn finishes requests in flight, then the engine stops.

    Tasks still running when the engine stops stay stored and run again on the next start.
    """
    import uvicorn

    from stateway.engine.runtime import Engine

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = Engine(db, functions=functions, workers=workers)
    engine.start()  # recovers whatever a previous process left running
    actions = StepFunctionsApi(engine)
    app = StepFunctionsApp(actions)

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            actions.end_polls()  # end long polls at once, so that the graceful shutdown is short
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after its shutdown; ours is a requested stop, so exit 0 instead.
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            lifespan="off", timeout_graceful_shutdown=5, server_header=False)
    server = _Server(config)
    print(f"stateway: serving the Step Functions API on http://{host}:{port} (database {db})",
          file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        app.close()  # ends long polls so that in-flight requests can finish
        engine.stop()
        engine.store.close()
        print("stateway: stopped", file=sys.stderr, flush=True)
    return 0
