"""Frames as rows: each running Parallel branch and Map iteration is a row of table `frames`.

The execution's snapshot keeps only its root frame and the ids of the others; a commit writes the
frames whose text changed and deletes the rows of frames that ended, in the round's transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.engine import Engine

pytestmark = pytest.mark.integration

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def task(function: str, next_state: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Task state calling one of the test's Python functions."""
    state: dict[str, Any] = {"Type": "Task", "Resource": FN + function, **extra}
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


class Gate:
    """A task function that holds every call until the test opens the gate; counts the calls."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.calls += 1
        self.open.wait(30)
        return event


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the SQLite file through a connection of the test's own."""
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


def wait_for(predicate: Callable[[], Any], timeout: float = 15) -> Any:
    """Poll until `predicate()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def stored_snapshot(path: Path, arn: str) -> dict[str, Any]:
    """The execution row's snapshot document."""
    (text,), = rows(path, "SELECT snapshot FROM executions WHERE arn = ?", arn)
    return dict(json.loads(text))


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test starts; each is stopped at the end."""
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.stop()


def start_engine(engines: list[Engine], path: Path, functions: dict[str, Any]) -> Engine:
    engine = Engine(f"sqlite:///{path}", functions=functions, workers=8, poll_interval=0.05).start()
    engines.append(engine)
    return engine


MAP = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3, "End": True,
    "ItemProcessor": {"StartAt": "Work", "States": {"Work": task("work")}}}}}


def test_map_iterations_are_rows_while_they_run(tmp_path: Path, engines: list[Engine]) -> None:
    gate = Gate()
    path = tmp_path / "frames.db"
    engine = start_engine(engines, path, {"work": gate})
    machine = engine.service.create_state_machine("fan", MAP)
    arn = engine.service.start_execution(machine, {"items": [{"n": n} for n in range(7)]})
    wait_for(lambda: gate.calls == 3)
    snap = stored_snapshot(path, arn)
    frame_rows = rows(path, "SELECT frame_id, body FROM frames WHERE execution_arn = ?", arn)
    assert list(snap["frames"]) == ["root"], "the snapshot keeps only the root frame"
    assert sorted(snap["frame_ids"]) == sorted(frame_id for frame_id, _ in frame_rows)
    assert len(frame_rows) == 3, "one row per running iteration: MaxConcurrency of them"
    assert sorted(json.loads(body)["index"] for _, body in frame_rows) == [0, 1, 2]
    gate.open.set()
    assert engine.wait(arn)["status"] == "SUCCEEDED"
    assert rows(path, "SELECT COUNT(*) FROM frames") == [(0,)], "ended iterations leave no rows"
    assert stored_snapshot(path, arn)["frame_ids"] == []


PARALLEL = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}},
    {"StartAt": "S1", "States": {"S1": task("step", "S2"), "S2": task("step", "S3"), "S3": task("step", "S4"),
                                 "S4": task("step")}},
]}}}


def test_an_unchanged_frame_is_not_rewritten(tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "writes.db"
    engine = start_engine(engines, path, {"step": lambda event, context: event})
    with sqlite3.connect(path) as db:
        # Every INSERT (and INSERT OR REPLACE) into `frames` is logged with the frame's branch program.
        db.executescript("""
            CREATE TABLE frame_writes (frame_id TEXT, program TEXT);
            CREATE TRIGGER log_frame_write AFTER INSERT ON frames BEGIN
                INSERT INTO frame_writes VALUES (NEW.frame_id, json_extract(NEW.body, '$.program'));
            END;""")
    machine = engine.service.create_state_machine("par", PARALLEL)
    arn = engine.service.start_execution(machine, {})
    # The second branch runs its four tasks to the end; the first one waits for an hour.
    wait_for(lambda: rows(path, "SELECT COUNT(*) FROM frames WHERE execution_arn = ?", arn) == [(1,)]
             and engine.service.describe_execution(arn)["status"] == "RUNNING"
             and rows(path, "SELECT COUNT(*) FROM frame_writes WHERE program LIKE '%/1'")[0][0] >= 4)
    writes = dict(rows(path, "SELECT program, COUNT(*) FROM frame_writes GROUP BY program"))
    assert writes["/States/P/Branches/0"] == 1, "the waiting branch was written once, when it began waiting"
    assert writes["/States/P/Branches/1"] >= 4, "the working branch was written as it moved on"
    (remaining,), = rows(path, "SELECT body FROM frames WHERE execution_arn = ?", arn)
    assert json.loads(remaining)["state"] == "Hold"
    engine.service.stop_execution(arn)
    assert engine.wait(arn)["status"] == "ABORTED"


def test_a_restart_in_the_middle_of_a_map_resumes_from_the_rows(tmp_path: Path, engines: list[Engine]) -> None:
    gate = Gate()
    path = tmp_path / "restart.db"
    first = start_engine(engines, path, {"work": gate})
    machine = first.service.create_state_machine("fan", MAP)
    items = [{"n": n} for n in range(12)]
    arn = first.service.start_execution(machine, {"items": items})
    wait_for(lambda: gate.calls == 3)
    first.stop()
    assert len(rows(path, "SELECT frame_id FROM frames WHERE execution_arn = ?", arn)) == 3
    # A new engine on the same file loads the root from the snapshot and the iterations from their rows;
    # the three that were running are run again, the other nine start from the stored items.
    second = start_engine(engines, path, {"work": lambda event, context: {"done": event["n"]}})
    description = second.wait(arn)
    gate.open.set()
    assert description["status"] == "SUCCEEDED", description
    assert json.loads(description["output"]) == [{"done": n} for n in range(12)]
    history = second.service.get_execution_history(arn)
    done = sorted(e["mapIterationSucceededEventDetails"]["index"] for e in history
                  if e["type"] == "MapIterationSucceeded")
    assert done == list(range(12))
    assert rows(path, "SELECT COUNT(*) FROM frames") == [(0,)]
