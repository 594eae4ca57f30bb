"""What the check at startup that each running execution's rows fit its snapshot costs (`engine/consistency.py`).

Builds (once) a store of waiting executions — Waits, token tasks, Maps with running iterations, one in
ten unstarted — then times `Engine.start()` + `stop()` on it with the check and without it, and the
check alone. The page cache is warm: the store was just written or read.

Run: ``python -m bench.startup_check [--executions 1000] [--db PATH] [--repeat 5]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from stateway.engine import Engine, consistency
from stateway.store.sqlite import open_store

TOKEN_TASK = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token"}},
              "End": True}
MACHINES: dict[str, tuple[dict[str, Any], Any]] = {
    "wait": ({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 31_536_000, "End": True}}}, {}),
    "token": ({"StartAt": "T", "States": {"T": TOKEN_TASK}}, {}),
    "map": ({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 4, "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": TOKEN_TASK}}}}}, list(range(100))),
}


def build(path: Path, executions: int) -> None:
    """A store of `executions` running executions: a third of each machine's, one in ten not yet started."""
    with Engine(f"sqlite:///{path}", poll_interval=0.05) as engine:
        arns = {name: engine.service.create_state_machine(name, definition)
                for name, (definition, _) in MACHINES.items()}
        names = list(MACHINES)
        for i in range(executions):
            name = names[i % len(names)]
            engine.service.start_execution(arns[name], MACHINES[name][1], name=f"{name}-{i}")
        deadline = time.monotonic() + 120
        while engine.store.scalar("unstarted_executions") is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the iterations' tasks are marked WAITING
    with sqlite3.connect(path) as db:
        # What a crash between a start and its first step leaves (recovery begins them from the store).
        db.execute("UPDATE executions SET snapshot = NULL WHERE arn IN (SELECT arn FROM executions "
                   "WHERE name LIKE 'wait-%' AND rowid % 10 = 0)")
        db.execute("DELETE FROM history_chunks WHERE execution_arn IN (SELECT arn FROM executions WHERE snapshot IS NULL)")
        db.execute("DELETE FROM timers WHERE execution_arn IN (SELECT arn FROM executions WHERE snapshot IS NULL)")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone holds it all: it is copied as it is


def timed(fn: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--db", default="/tmp/stateway-startup-check.db")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.db)
    if not path.exists():
        build(path, args.executions)
    # Each start runs on a fresh copy: the executions it restarts from the store take their first steps.
    pristine = path.read_bytes()
    copies: list[Path] = []

    def start_stop() -> None:
        copy = path.with_name(f"{path.stem}-run{len(copies)}.db")
        copies.append(copy)
        copy.write_bytes(pristine)
        engine = Engine(f"sqlite:///{copy}", poll_interval=3600)
        started = time.perf_counter()
        engine.start()
        start_ms.append((time.perf_counter() - started) * 1000)
        engine.stop()

    store = open_store(f"sqlite:///{path}")
    counts = {table: store.reader.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("executions", "tasks", "timers", "frames", "join_data", "history_chunks")}
    print(f"store: {counts}")
    check = timed(lambda: consistency.disagreements(store), args.repeat)
    print(f"check alone: median {statistics.median(check):.1f} ms (min {min(check):.1f})")
    found = consistency.disagreements(store)
    print(f"disagreements: {len(found)}")
    store.close()
    for label, checking in (("without the check", False), ("with the check", True)):
        real = consistency.disagreements
        if not checking:
            consistency.disagreements = lambda store: {}  # type: ignore[assignment]
        start_ms: list[float] = []
        try:
            for _ in range(args.repeat):
                start_stop()
        finally:
            consistency.disagreements = real  # type: ignore[assignment]
        print(f"Engine.start() {label}: median {statistics.median(start_ms):.1f} ms (min {min(start_ms):.1f})")
    for copy in copies:
        for suffix in ("", "-wal", "-shm", ".engine"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
