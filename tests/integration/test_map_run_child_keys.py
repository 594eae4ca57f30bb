"""The rows of Map Runs' child executions, keyed by their Map Run's id, attempt and index, on real SQLite files:
a batch of rounds writes its net effect (a child that starts and ends in it is one row), many rows per statement,
and the same rows as the changes applied one at a time; the API finds a child from its ARN alone and pages a
Map Run's children by that key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.asl.child_names import child_execution_arn, child_execution_name, name_prefix
from stateway.asl.events import ChildExecutionChanged
from stateway.engine import Engine, map_runs
from stateway.engine.errors import ExecutionDoesNotExist
from stateway.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

RUN = "arn:aws:states:us-east-1:123456789012:mapRun:m/Each:0b8f4e2c-1234-4abc-9def-0123456789ab"
EXPRESS_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:m/Fast:5c7e9a10-4321-4cba-8fed-ba9876543210"
NOT_STORED = "arn:aws:states:us-east-1:123456789012:mapRun:m/Gone:11111111-2222-4333-8444-555555555555"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:m:parent"
ERROR, CAUSE = "Bad\x00News", "half a pair \ud800 and a nul \x00"  # what JSON text or UTF-8 alone cannot carry


def changes() -> list[ChildExecutionChanged]:
    """What two Map Runs' children do, in order: 70 start (more than one statement takes), 40 of them
    succeed, 10 fail; one failed child waits for its redrive, runs again and succeeds, another waits and is
    aborted; an EXPRESS child fails and its redrive starts another; a Map Run with no row has children too."""
    def change(index: int, status: str, at: int, **fields: Any) -> ChildExecutionChanged:
        return ChildExecutionChanged(RUN, index, status, at, **fields)

    out = [change(i, "RUNNING", 100 + i // 8, input=json.dumps({"i": i}), item_count=1 + i % 2) for i in range(70)]
    out += [change(i, "SUCCEEDED", 200, output=json.dumps({"o": i})) for i in range(40)]
    out += [change(i, "FAILED", 201, error=ERROR, cause=CAUSE) for i in range(40, 50)]
    out += [change(40, "PENDING_REDRIVE", 300), change(41, "PENDING_REDRIVE", 300),
            change(40, "RUNNING", 301, redriven=True), change(40, "SUCCEEDED", 302, output="[1]"),
            change(41, "ABORTED", 303)]
    express = [ChildExecutionChanged(EXPRESS_RUN, 0, "RUNNING", 400, 0, True, input="{}"),
               ChildExecutionChanged(EXPRESS_RUN, 0, "FAILED", 401, 0, True, error="E"),
               ChildExecutionChanged(EXPRESS_RUN, 0, "RUNNING", 500, 1, True, input="{}"),
               ChildExecutionChanged(EXPRESS_RUN, 0, "SUCCEEDED", 501, 1, True, output="{}")]
    return out + express + [ChildExecutionChanged(NOT_STORED, 0, "RUNNING", 600, input="{}")]


def new_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    with store.write() as db:
        for run in (RUN, EXPRESS_RUN):
            db.execute(store.q["map_run_insert"], {
                "arn": run, "execution_arn": EXECUTION, "started_event_id": 1, "start_ms": 1, "max_concurrency": 0,
                "tolerated_failure_percentage": 0.0, "tolerated_failure_count": 0, "total": 70,
                "child_names": name_prefix(run)})
    return store


def stored(store: SqliteStore) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in store.reader.execute(
        "SELECT * FROM map_run_children ORDER BY map_run, attempt, idx").fetchall()]


def write_in_batches(store: SqliteStore, batches: list[list[ChildExecutionChanged]]) -> None:
    rows = map_runs.ChildRows()
    for batch in batches:
        rows.add(batch)
        with store.write() as db:
            rows.write(db, store.q)


def test_a_batch_writes_the_rows_its_changes_make_one_at_a_time(tmp_path: Path) -> None:
    every = changes()
    batched, one_by_one = new_store(tmp_path / "batched.db"), new_store(tmp_path / "one-by-one.db")
    write_in_batches(batched, [every])  # a child that starts in the batch is inserted as it ended
    # Each change in a batch of its own: every start inserted, every other change an UPDATE.
    write_in_batches(one_by_one, [[change] for change in every])
    assert stored(batched) == stored(one_by_one)
    # The starts first, then the rest: rows stored before a batch that changes some of them several times.
    starts = [c for c in every if c.status == "RUNNING" and not c.redriven and c.attempt == 0]
    in_two = new_store(tmp_path / "in-two.db")
    write_in_batches(in_two, [starts, [c for c in every if c not in starts]])
    assert stored(in_two) == stored(one_by_one)
    by_key = {(row[0], row[1], row[2]): row for row in stored(batched)}
    assert len(by_key) == 72  # 70 children, and the EXPRESS child twice: none for the Map Run with no row
    run, express = (batched.reader.execute("SELECT id FROM map_runs WHERE arn = ?", (arn,)).fetchone()[0]
                    for arn in (RUN, EXPRESS_RUN))
    columns = ("status", "start_ms", "stop_ms", "input", "output", "error", "cause", "redrive_count", "redrive_ms")
    shown = {key: dict(zip(columns, row[5:], strict=True)) for key, row in by_key.items()}
    assert shown[(run, 0, 0)] == {"status": "SUCCEEDED", "start_ms": 100, "stop_ms": 200, "input": '{"i": 0}',
                                  "output": '{"o": 0}', "error": None, "cause": None, "redrive_count": 0,
                                  "redrive_ms": None}
    assert (shown[(run, 0, 45)]["status"], shown[(run, 0, 45)]["error"]) == ("FAILED", ERROR)
    assert shown[(run, 0, 45)]["cause"] == "half a pair \\ud800 and a nul \x00"  # the lone half as its escape
    assert shown[(run, 0, 40)] == {"status": "SUCCEEDED", "start_ms": 105, "stop_ms": 302, "input": '{"i": 40}',
                                   "output": "[1]", "error": None, "cause": None, "redrive_count": 1,
                                   "redrive_ms": 301}
    assert (shown[(run, 0, 41)]["status"], shown[(run, 0, 41)]["error"]) == ("ABORTED", ERROR)
    assert (shown[(run, 0, 69)]["status"], by_key[(run, 0, 69)][4]) == ("RUNNING", 2)
    assert [(shown[(express, a, 0)]["status"], by_key[(express, a, 0)][3]) for a in (0, 1)] == [
        ("FAILED", 1), ("SUCCEEDED", 1)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    started = Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={}, poll_interval=0.05).start()
    yield started
    started.stop()


def map_of(engine: Engine, items: int, execution_type: str = "STANDARD") -> str:
    """A distributed Map of `items` Pass children, run to its end: its Map Run's ARN."""
    machine = engine.service.create_state_machine(f"m{items}{execution_type}", {"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "Label": "Each", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}, "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}}}}}})
    execution = engine.service.start_execution(machine, list(range(items)))
    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    (run,) = map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0]
    return str(run["mapRunArn"])


def test_pages_of_a_map_runs_children_follow_each_other(engine: Engine) -> None:
    """150 children, most started in the same millisecond: by start, then by index (their names' order)."""
    run = map_of(engine, 150)
    tokens = engine.service.page_tokens
    everything, token = map_runs.list_child_executions(engine.store, tokens, run, max_results=1000)
    assert token is None and len(everything) == 150
    pages: list[dict[str, Any]] = []
    while True:
        page, token = map_runs.list_child_executions(engine.store, tokens, run, max_results=40, next_token=token)
        pages += page
        if token is None:
            break
    assert pages == everything
    order = [(child["startDate"], int(child["name"][-12:], 16)) for child in everything]
    assert order == sorted(order, reverse=True) and {index for _, index in order} == set(range(150))
    for child in everything[::37]:
        described = engine.service.describe_execution(child["executionArn"])
        assert (described["name"], described["status"], json.loads(described["input"])) == (
            child["name"], "SUCCEEDED", int(child["name"][-12:], 16))


def test_only_the_arns_map_runs_gave_their_children_are_found(engine: Engine) -> None:
    standard, express = map_of(engine, 2), map_of(engine, 1, "EXPRESS")
    name = child_execution_name(standard, 1)
    arn = child_execution_arn(standard, name, False)
    assert engine.service.describe_execution(arn)["name"] == name
    express_arn = child_execution_arn(express, child_execution_name(express, 0), True)
    assert engine.service.describe_execution(express_arn)["mapRunArn"] == express
    for unknown in (
            arn.replace(":m2STANDARD/Each:", ":m2STANDARD/Other:"),  # another Map Run's state machine
            arn.replace(":us-east-1:", ":eu-west-1:"),
            child_execution_arn(standard, name, True),  # a STANDARD child's name as an EXPRESS execution's
            child_execution_arn(express, child_execution_name(express, 0), False),
            child_execution_arn(standard, child_execution_name(standard, 2), False),  # no such item
            child_execution_arn(standard, child_execution_name(standard, 0, 1), False),  # no such attempt
            child_execution_arn(standard, name.upper(), False)):
        with pytest.raises(ExecutionDoesNotExist):
            engine.service.describe_execution(unknown)


def test_a_map_run_stored_before_it_kept_its_childrens_names_still_finds_them(engine: Engine) -> None:
    run = map_of(engine, 3)
    with engine.store.write() as db:
        db.execute("UPDATE map_runs SET child_names = NULL")  # as migration 0023 leaves older Map Runs
    arn = child_execution_arn(run, child_execution_name(run, 2), False)
    assert engine.service.describe_execution(arn)["status"] == "SUCCEEDED"
