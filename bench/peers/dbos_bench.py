"""The benchmark's workflows on DBOS Transact with its SQLite system database in WAL mode.

The ASL chain becomes a `@DBOS.workflow` calling the `@DBOS.step` `noop_step` ten times; the Map
becomes a fan-out workflow that enqueues one child workflow per item (each calling `noop_step`
once) on a DBOS queue whose concurrency is the Map's `MaxConcurrency`, then awaits them all. The
Map from the object store reads the JSON Lines file's items in a step, fans them out the same way,
and writes the results to a file in a last step.

Run: ``python -m bench.peers.dbos_bench --scenario latency`` (from the repository root).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig

from bench.common import harness_main, noop
from bench.scenarios import CHAIN_LENGTH, MAP_KINDS, READER_RESULTS_PREFIX, Scenario

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


@DBOS.step()
def read_items(path: str) -> list[Any]:
    """The items of a JSON Lines file, one JSON value a line (blank lines skipped)."""
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


@DBOS.step()
def write_results(directory: str, results: list[Any]) -> dict[str, Any]:
    """Write the results as one JSON array; the workflow's output is only where they went."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    path = Path(directory) / "results.json"
    with path.open("w") as out:
        json.dump(results, out)
    return {"results": str(path), "count": len(results)}


@DBOS.workflow()
def map_reader_fanout(root: str, bucket: str, key: str, queue_name: str) -> dict[str, Any]:
    """The Map from the object store: the file's items read in a step, one child workflow per item on
    the concurrency-limited queue, the results gathered in order and written to a file in a step."""
    items = read_items(str(Path(root) / bucket / key))
    queue = DBOS.retrieve_queue(queue_name)
    assert queue is not None, f"queue {queue_name} is not registered"
    handles = [queue.enqueue(map_item, item) for item in items]
    results = [handle.get_result() for handle in handles]
    return write_results(str(Path(root) / bucket / READER_RESULTS_PREFIX / str(DBOS.workflow_id)), results)


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
        self.objects_root: Path | None = None

    def setup(self, scenario: Scenario, workdir: Path) -> None:
        """Put a fresh database file in WAL mode (a persistent setting), then launch DBOS on it."""
        self.scenario = scenario
        self.objects_root = workdir / "objects"
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
        if scenario.kind in MAP_KINDS:
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
        if self.scenario.kind == "mapreader":
            return DBOS.start_workflow(map_reader_fanout, str(self.objects_root), payload["bucket"], payload["key"],
                                       self.queue_name)
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

    def stage_objects(self, root: Path, keys: list[str]) -> None:
        """Nothing to do: the workflow reads the files under `root` itself."""

    def teardown(self) -> None:
        """Shut DBOS down without waiting for stragglers."""
        DBOS.destroy(workflow_completion_timeout_sec=0)


def main() -> int:
    """Entry point: one scenario on DBOS."""
    return harness_main(DbosAdapter)


if __name__ == "__main__":
    raise SystemExit(main())
