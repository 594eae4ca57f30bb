"""The benchmark's ASL definitions on stateway's durable runtime (embedded SQLite, WAL, synchronous=FULL).

Task states call `arn:aws:lambda:us-east-1:123456789012:function:noop`, which the engine maps to the
shared Python `noop` function run by its worker threads in this process.

Run: ``python -m bench.stateway_bench --scenario latency`` (from the repository root).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bench.common import harness_main, noop
from bench.scenarios import Scenario, definition_for

WORKERS = 8


class StatewayAdapter:
    """Drives `stateway.engine.Engine` in this process on a fresh SQLite file."""

    name = "stateway"

    def __init__(self) -> None:
        self.engine: Any = None
        self.db_path: Path | None = None
        self.state_machine_arn = ""
        self._transitions_before = 0
        self._rounds_before = 0

    def setup(self, scenario: Scenario, workdir: Path) -> None:
        """Open a fresh store, start the engine and create the scenario's state machine."""
        from stateway.engine import Engine

        self.db_path = workdir / "stateway.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.db_path) + suffix).unlink(missing_ok=True)
        # The mapreader scenarios' buckets are the directories under workdir/objects (docs/runtime.md).
        objects = workdir / "objects" if scenario.kind == "mapreader" else None
        self.engine = Engine(f"sqlite:///{self.db_path}", functions={"noop": noop}, workers=WORKERS,
                             object_store=objects)
        self.engine.start()
        self.state_machine_arn = self.engine.service.create_state_machine("bench", definition_for(scenario))

    def start(self, payload: dict[str, Any]) -> Any:
        """StartExecution through the service layer; the handle is the execution ARN."""
        return self.engine.service.start_execution(self.state_machine_arn, payload)

    def wait(self, handle: Any) -> str:
        """Block in `Engine.wait` until the execution ends."""
        return str(self.engine.wait(handle, timeout=600)["status"])

    def info(self) -> dict[str, Any]:
        """stateway version and the journal/synchronous modes of the engine's own writer connection."""
        import stateway

        info: dict[str, Any] = {"version": stateway.__version__, "store": "SQLite file", "workers": WORKERS}
        writer = getattr(self.engine.store, "_writer", None)
        if isinstance(writer, sqlite3.Connection):
            with self.engine.store._write_lock:  # the engine's own connection: not while it writes
                info["journal_mode"] = writer.execute("PRAGMA journal_mode").fetchone()[0]
                level = writer.execute("PRAGMA synchronous").fetchone()[0]
            info["synchronous"] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, level)
        self._transitions_before = getattr(self.engine, "transitions", 0)
        self._rounds_before = getattr(self.engine, "rounds", 0)
        return info

    def extra(self, handles: list[Any]) -> dict[str, Any]:
        """History events of the last execution, and the engine's own counters since setup."""
        figures: dict[str, Any] = {}
        if handles:
            figures["history_events_per_execution"] = len(self.engine.service.get_execution_history(handles[-1]))
        if hasattr(self.engine, "transitions"):
            figures["engine_history_events_total"] = self.engine.transitions - self._transitions_before
        if hasattr(self.engine, "rounds"):
            figures["engine_rounds_total"] = self.engine.rounds - self._rounds_before
        return figures

    def stage_objects(self, root: Path, keys: list[str]) -> None:
        """Nothing to do: the engine's object store is the directory `root` itself."""

    def teardown(self) -> None:
        """Stop the engine."""
        if self.engine is not None:
            self.engine.stop()


def main() -> int:
    """Entry point: one scenario on stateway."""
    return harness_main(StatewayAdapter)


if __name__ == "__main__":
    raise SystemExit(main())
