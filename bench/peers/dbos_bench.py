"""The benchmark's workflows on DBOS Transact with its SQLite system database in WAL mode.

The ASL chain becomes a `@DBOS.workflow` calling the `@DBOS.step` `noop_step` ten times; the Map
becomes a fan-out workflow that enqueues one child workflow per item (each calling `noop_step`
once) on a DBOS queue whose concurrency is the Map's `MaxConcurrency`, then awaits them all.

Run: ``python -m bench.peers.dbos_bench --scenario latency`` (from the repository root).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig

from bench.common import harness_main, noop
from bench.scenarios import CHAIN_LENGTH, Scenario

# DBOS queues poll the database for work; the default (1 s) would dominate a Map of 100 items, so
# the benchmark gives DBOS a short interval. Lower is faster for small fan-outs but costs a poll.
QUEUE_POLLING_INTERVAL_SEC = 0.01


@DBOS.step()
def noop_step(event: Any) -> Any:
    """One durable step: the shared trivial task function."""
    return noop(event)


@DBOS.workflow()
def chain10(event: Any) -> Any:
    """The ten-step chain: each step's output is the next step's input, as in the ASL chain."""
    for _ in range(CHAIN_LENGTH):
        event = noop_step(event)
    return event


@DBOS.workflow()
def map_item(item: Any) -> Any:
    """One Map iteration: a child workflow running one step."""
    return noop_step(item)


@DBOS.workflow()
def map_fanout(payload: dict[str, Any], queue_name: str) -> list[Any]:
    """The Map: enqueue one child workflow per item on a concurrency-limited queue, gather in order."""
    queue = DBOS.retrieve_queue(queue_name)
    assert queue is not None, f"queue {queue_name} is not registered"
    handles = [queue.enqueue(map_item, item) for item in payload["items"]]
    return [handle.get_result() for handle in handles]


def _dbos_version() -> str:
    from importlib.metadata import version

    return version("dbos")


class DbosAdapter:
    """Drives DBOS Transact in this process on a WAL-mode SQLite system database."""

    name = "dbos"

    def __init__(self) -> None:
        self.db_path: Path | None = None
        self.scenario: Scenario | None = None
        self.queue_name = ""

    def setup(self, scenario: Scenario, workdir: Path) -> None:
        """Put a fresh database file in WAL mode (a persistent setting), then launch DBOS on it."""
        self.scenario = scenario
        self.db_path = workdir / "dbos.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.db_path) + suffix).unlink(missing_ok=True)
        with sqlite3.connect(self.db_path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        config: DBOSConfig = {
            "name": "stateway-bench",
            "system_database_url": f"sqlite:///{self.db_path}",
            "log_level": "WARNING",
        }
        logging.getLogger("dbos").setLevel(logging.WARNING)
        DBOS(config=config)
        DBOS.launch()
        if scenario.kind == "map":
            self.queue_name = f"map_c{scenario.max_concurrency}"
            DBOS.register_queue(
                self.queue_name,
                global_concurrency=scenario.max_concurrency,
                polling_interval_sec=QUEUE_POLLING_INTERVAL_SEC,
            )

    def start(self, payload: dict[str, Any]) -> Any:
        """Start the scenario's workflow; DBOS runs it on its executor threads."""
        assert self.scenario is not None
        if self.scenario.kind == "map":
            return DBOS.start_workflow(map_fanout, payload, self.queue_name)
        return DBOS.start_workflow(chain10, payload)

    def wait(self, handle: Any) -> str:
        """Await the workflow's result; an exception is a failed execution."""
        try:
            handle.get_result()
        except Exception:
            return "FAILED"
        return "SUCCEEDED"

    def info(self) -> dict[str, Any]:
        """DBOS version and the journal/synchronous modes its own connections run with."""
        from dbos._dbos import _get_dbos_instance

        engine = _get_dbos_instance()._sys_db.engine
        with engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        return {
            "version": _dbos_version(),
            "store": "SQLite system database",
            "journal_mode": journal,
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous),
            "queue_polling_interval_s": QUEUE_POLLING_INTERVAL_SEC if self.queue_name else None,
        }

    def extra(self, handles: list[Any]) -> dict[str, Any]:
        """Durable operations DBOS recorded for the last execution (its steps and child calls)."""
        if not handles:
            return {}
        try:
            steps = DBOS.list_workflow_steps(handles[-1].get_workflow_id())
        except Exception:  # an informational figure only
            return {}
        return {"recorded_operations_per_execution": len(steps)}

    def teardown(self) -> None:
        """Shut DBOS down without waiting for stragglers."""
        DBOS.destroy(workflow_completion_timeout_sec=0)


def main() -> int:
    """Entry point: one scenario on DBOS."""
    return harness_main(DbosAdapter)


if __name__ == "__main__":
    raise SystemExit(main())
