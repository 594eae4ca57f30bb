"""The redrive sweep, on a real SQLite file: the frame and join rows a FAILED, ABORTED or TIMED_OUT execution
keeps for RedriveExecution are deleted once no redrive can continue it, and nothing the API answers changes.

Time moves by the engine's clock (`runtime.now_ms`, which the sweep reads) and the service's (`service.now_ms`,
which RedriveExecution and DescribeExecution read), each patched apart: nothing sleeps for 14 days.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.engine import Engine, runtime, service, sweep
from stateway.engine import errors as api
from stateway.engine.map_runs import describe_map_run, list_map_runs
from stateway.engine.service import (
    MAX_DURATION_SECONDS,
    REDRIVABLE_PERIOD_MS,
    not_redrivable_reason,
    redrivable_until_ms,
)
from stateway.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

DAY_MS = 24 * 3600 * 1000
PERIOD_EXCEEDED = "Execution redrivable period exceeded"
# A distributed Map (a Map Run), one item at a time, whose item 2 fails the first time it runs: the execution
# fails and keeps the results of items 0 and 1 for a redrive, which runs items 2 to 5 and succeeds.
DEFINITION = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.items", "Label": "Each", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
        "States": {"Work": task("work")}}}}}


class FailsOnce:
    """Fails item 2 of each execution (its input says which) the first time; every other call succeeds."""

    def __init__(self) -> None:
        self.failed: set[str] = set()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.calls += 1
            fail = event["n"] == 2 and event["run"] not in self.failed
            if fail:
                self.failed.add(event["run"])
        if fail:
            raise RuntimeError("not this time")
        return event["n"] * 10


@pytest.fixture
def work() -> FailsOnce:
    return FailsOnce()


@pytest.fixture
def engine(tmp_path: Path, work: FailsOnce) -> Iterator[Engine]:
    started = Engine(f"sqlite:///{tmp_path / 'sweep.db'}", functions={"work": work}, poll_interval=0.05,
                     sweep_interval_seconds=0.05).start()
    yield started
    started.stop()


def kept_rows(engine: Engine, arn: str) -> tuple[int, int]:
    """(join_data rows, frames rows) of an execution."""
    path = Path(engine.store.path)
    (joins,), = rows(path, "SELECT count(*) FROM join_data WHERE execution_arn = ?", arn)
    (frames,), = rows(path, "SELECT count(*) FROM frames WHERE execution_arn = ?", arn)
    return joins, frames


def snapshot_of(engine: Engine, arn: str) -> str | None:
    (snapshot,), = rows(Path(engine.store.path), "SELECT snapshot FROM executions WHERE arn = ?", arn)
    return snapshot  # type: ignore[no-any-return]


def failed(engine: Engine, name: str = "orders") -> str:
    machine = engine.service.create_state_machine(name, DEFINITION)
    arn = engine.service.start_execution(machine, {"items": [{"n": n, "run": name} for n in range(6)]})
    assert engine.wait(arn, timeout=30)["status"] == "FAILED"
    assert kept_rows(engine, arn)[0] > 0  # the results of the items that succeeded, for a redrive
    return arn


def answers(engine: Engine, arn: str) -> dict[str, Any]:
    """What the API answers about an execution and its Map Run."""
    svc = engine.service
    machine = svc.describe_execution(arn)["stateMachineArn"]
    runs, _ = list_map_runs(engine.store, svc.page_tokens, arn)
    return {"describe": svc.describe_execution(arn), "history": svc.get_execution_history(arn),
            "history backwards": svc.get_execution_history(arn, reverse=True, max_results=3),
            "machine": svc.describe_state_machine_for_execution(arn),
            "list": svc.list_executions(machine), "map runs": runs,
            "map run": [describe_map_run(engine.store, run["mapRunArn"]) for run in runs]}


def later(module: Any, monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    real = service.now_ms
    monkeypatch.setattr(module, "now_ms", lambda: real() + int(days * DAY_MS))


def test_the_rows_kept_for_a_redrive_are_swept_once_its_period_has_passed(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = failed(engine)
    later(service, monkeypatch, 15)  # by the service's clock the period is over...
    before = answers(engine, arn)
    assert (before["describe"]["redriveStatus"], before["describe"]["redriveStatusReason"]) == \
        ("NOT_REDRIVABLE", PERIOD_EXCEEDED)
    assert before["map runs"] and before["map run"][0]["status"] == "FAILED"
    engine._next_sweep = 0.0  # ...but the sweep goes by the engine's, still now: it keeps the rows
    wait_for(lambda: engine._next_sweep > 0.0)
    assert kept_rows(engine, arn)[0] > 0 and snapshot_of(engine, arn) is not None

    later(runtime, monkeypatch, 15)
    wait_for(lambda: kept_rows(engine, arn) == (0, 0))
    assert snapshot_of(engine, arn) is None  # read only to redrive it
    assert answers(engine, arn) == before
    with pytest.raises(api.ExecutionNotRedrivable) as refused:
        engine.service.redrive_execution(arn)
    assert refused.value.message == PERIOD_EXCEEDED
    assert answers(engine, arn) == before


def test_a_redrive_whose_clock_lags_behind_the_sweep_is_refused_in_the_same_words(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The boundary: the engine's clock has passed the execution's period and swept its rows; the service's,
    a little behind, would still allow the redrive. The cursor says the rows are gone, and the redrive is
    refused as it would be a moment later, instead of reopening an execution without its rows."""
    arn = failed(engine)
    later(runtime, monkeypatch, 15)
    wait_for(lambda: kept_rows(engine, arn) == (0, 0))
    with pytest.raises(api.ExecutionNotRedrivable) as refused:
        engine.service.redrive_execution(arn)
    assert refused.value.message == PERIOD_EXCEEDED
    described = engine.service.describe_execution(arn)
    assert (described["status"], described["redriveCount"]) == ("FAILED", 0)


def test_a_redrive_still_allowed_finds_its_rows(engine: Engine, work: FailsOnce,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    arn = failed(engine)
    later(runtime, monkeypatch, 13)
    later(service, monkeypatch, 13)
    engine._next_sweep = 0.0
    wait_for(lambda: engine._next_sweep > 0.0)  # a sweep has looked, a day before the period ends
    calls = work.calls
    engine.service.redrive_execution(arn)
    done = engine.wait(arn, timeout=30)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [0, 10, 20, 30, 40, 50]
    assert work.calls == calls + 4  # items 0 and 1 did not run again: their results were kept
    assert kept_rows(engine, arn) == (0, 0)


def test_the_sweep_goes_in_batches_from_a_cursor_that_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "batches.db"
    with Engine(f"sqlite:///{path}", functions={"work": FailsOnce()}, poll_interval=0.05,
                sweep_interval_seconds=3600) as engine:
        arns = [failed(engine, f"m{i}") for i in range(3)]
        # The sweep at the engine's start ran before any of them ended; the next is an hour away.
    ends = {arn: redrivable_until_ms(*rows(path, "SELECT start_ms, stop_ms FROM executions WHERE arn = ?", arn)[0])
            for arn in arns}
    order = sorted(arns, key=lambda arn: (ends[arn], arn))
    for i, arn in enumerate(order):
        store = SqliteStore(path)  # a process of its own each time: only the stored cursor carries over
        assert sweep.sweep(store, ends[arn], limit=1) == 0  # at its last redrivable moment it is kept
        assert sweep.sweep(store, ends[arn] + 1, limit=1) == 1
        store.close()
        left = [bool(rows(path, "SELECT 1 FROM join_data WHERE execution_arn = ?", other)) for other in order]
        assert left == [j > i for j in range(len(order))]
        snapshots = [rows(path, "SELECT snapshot IS NOT NULL FROM executions WHERE arn = ?", other)[0][0]
                     for other in order]
        assert snapshots == [j > i for j in range(len(order))]
    store = SqliteStore(path)
    assert sweep.sweep(store, max(ends.values()) + DAY_MS) == 0
    # What the API answers stays: their rows, histories, and the reason a redrive is refused.
    for arn in arns:
        row = rows(path, "SELECT status, start_ms, stop_ms FROM executions WHERE arn = ?", arn)[0]
        execution = {"status": row[0], "start_ms": row[1], "stop_ms": row[2]}
        assert not_redrivable_reason(execution, ends[arn] + 1, "ACTIVE") == PERIOD_EXCEEDED
        assert rows(path, "SELECT count(*) FROM history_chunks WHERE execution_arn = ?", arn)[0][0] > 0
    store.close()


def test_the_index_and_python_agree_on_the_last_redrivable_moment(tmp_path: Path) -> None:
    """The index's expression (migration 0018) is `redrivable_until_ms` for an execution that ended before
    it, and `not_redrivable_reason` turns exactly after it — for the period and for the year, whichever ends
    first."""
    store = SqliteStore(tmp_path / "moments.db")
    year_ms = MAX_DURATION_SECONDS * 1000
    cases = {"period": (0, 5 * DAY_MS), "year": (0, year_ms - DAY_MS), "both": (0, year_ms - REDRIVABLE_PERIOD_MS - 1)}
    with store.write() as db:
        for name, (start, stop) in cases.items():
            db.execute("INSERT INTO executions (arn, state_machine_arn, name, definition, status, input, start_ms, "
                       "stop_ms) VALUES (?, 'm', ?, '{}', 'FAILED', '{}', ?, ?)", (name, name, start, stop))
    for name, (start, stop) in cases.items():
        until = redrivable_until_ms(start, stop)
        assert store.scalar("redrivable_until", {"arn": name}) == sweep.sweepable_after_ms(until, stop) == until
        execution = {"status": "FAILED", "start_ms": start, "stop_ms": stop}
        assert not_redrivable_reason(execution, until, "ACTIVE") is None
        assert not_redrivable_reason(execution, until + 1, "ACTIVE") is not None
    assert not_redrivable_reason({"status": "FAILED", "start_ms": 0, "stop_ms": cases["year"][1]},
                                 redrivable_until_ms(*cases["year"]) + 1, "ACTIVE") == \
        "Execution has exceeded the max execution time"
    plan = " ".join(str(row[3]) for row in store.reader.execute(
        "EXPLAIN QUERY PLAN " + store.q["sweepable_executions"],
        {"after_ms": 0, "after_arn": "", "now": 1, "limit": 1}))
    # A range of the index from the cursor to now: no scan of the executions swept before, nor of the table.
    assert "USING INDEX executions_sweepable (<expr>>? AND <expr><?)" in plan, plan
    store.close()
    with sqlite3.connect(tmp_path / "moments.db") as db:
        assert db.execute("SELECT count(*) FROM executions").fetchone() == (3,)


def test_an_execution_that_ends_past_its_last_redrivable_moment_is_still_swept(tmp_path: Path) -> None:
    """One timed out at its year (by a timer that fired late, or in the round after a sweep looked) ends past
    the last moment it could be redriven, and after the sweep may have moved its cursor beyond that moment
    (past another execution's period that ended between): it is swept all the same, after its stop."""
    path = tmp_path / "late.db"
    store = SqliteStore(path)
    year_ms = MAX_DURATION_SECONDS * 1000

    def ended(arn: str, status: str, start: int, stop: int) -> None:
        with store.write() as db:
            db.execute("INSERT INTO executions (arn, state_machine_arn, name, definition, status, input, start_ms, "
                       "stop_ms) VALUES (?, 'm', ?, '{}', ?, '{}', ?, ?)", (arn, arn, status, start, stop))
            db.execute("INSERT INTO join_data (execution_arn, join_id, kind, idx, value) VALUES (?, 'j1', 'result', 0, '1')",
                       (arn,))

    ended("failed", "FAILED", 0, 5 * DAY_MS)  # its period ends on day 19
    assert sweep.sweep(store, 20 * DAY_MS) == 1  # the cursor passes day 19
    # Started a year before day 18: its year ended on day 18, and it timed out just after the sweep looked.
    ended("year", "TIMED_OUT", 18 * DAY_MS - year_ms, 20 * DAY_MS + 1)
    until = redrivable_until_ms(18 * DAY_MS - year_ms, 20 * DAY_MS + 1)
    assert until < 19 * DAY_MS  # behind the cursor: never redrivable once ended
    assert not_redrivable_reason({"status": "TIMED_OUT", "start_ms": 18 * DAY_MS - year_ms,
                                  "stop_ms": 20 * DAY_MS + 1}, 20 * DAY_MS + 1, "ACTIVE") == \
        "Execution has exceeded the max execution time"
    assert sweep.sweep(store, 20 * DAY_MS + 2) == 1
    assert rows(path, "SELECT count(*) FROM join_data") == [(0,)]
    store.close()
