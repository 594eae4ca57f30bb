"""StopExecution on a real engine and SQLite file: applied and durable before it returns, answering the
stored stopDate; queued for the engine when none runs in the process; and stopDate is the closing
event's timestamp."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import test_frames
from support import rows, task, wait_for

from stateway.engine import Engine
from stateway.engine.service import Service
from stateway.store.sqlite import open_store

pytestmark = pytest.mark.integration

WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1000, "End": True}}}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'stop.db'}"


engines = test_frames.engines  # the engines a test starts, each stopped at its end


def started(engines: list[Engine], db: str, **functions: Any) -> Engine:
    engine = Engine(db, functions=functions, poll_interval=0.05).start()
    engines.append(engine)
    return engine


def waiting(service: Service, arn: str) -> bool:
    return any(e["type"] == "WaitStateEntered" for e in service.get_execution_history(arn))


def test_stop_is_applied_and_durable_when_it_returns(db: str, engines: list[Engine]) -> None:
    engine = started(engines, db)
    machine = engine.service.create_state_machine("m", WAIT)
    arn = engine.service.start_execution(machine, {})
    wait_for(lambda: waiting(engine.service, arn))
    stop_date = engine.service.stop_execution(arn, error="Halt", cause="by test")
    # Read at once, through a connection of its own (another process would see the same): no wait.
    other = Service(open_store(db))
    described = other.describe_execution(arn)
    assert (described["status"], described["stopDate"]) == ("ABORTED", stop_date)
    assert (described["error"], described["cause"]) == ("Halt", "by test")
    listed = other.list_executions(machine)[0]
    assert [(e["status"], e["stopDate"]) for e in listed] == [("ABORTED", stop_date)]
    last = other.get_execution_history(arn)[-1]
    assert (last["type"], last["timestamp"]) == ("ExecutionAborted", stop_date)


def test_a_stop_wins_over_a_result_that_follows_it(db: str, engines: list[Engine]) -> None:
    """The task function stops its own execution and then returns: once StopExecution has returned the
    execution is ABORTED, and the result that comes after it is ignored."""
    seen: list[tuple[str, Any]] = []
    returned = threading.Event()

    def stop_then_return(event: Any, context: Any) -> Any:
        try:
            arn = event["arn"]
            stop_date = engine.service.stop_execution(arn)
            described = engine.service.describe_execution(arn)
            seen.append((described["status"], described.get("stopDate") == stop_date))
            return {"done": True}
        finally:
            returned.set()

    engine = started(engines, db, stop_then_return=stop_then_return)
    machine = engine.service.create_state_machine("m", {"StartAt": "T", "States": {"T": task(
        "stop_then_return", Parameters={"arn.$": "$$.Execution.Id"})}})
    arn = engine.service.start_execution(machine, {})
    assert returned.wait(10)
    assert seen == [("ABORTED", True)]
    final = engine.wait(arn, timeout=10)
    assert final["status"] == "ABORTED"
    kinds = [e["type"] for e in engine.service.get_execution_history(arn)]
    assert kinds[-1] == "ExecutionAborted" and "LambdaFunctionSucceeded" not in kinds


def test_stopping_an_ended_execution_answers_its_stop_date(db: str, engines: list[Engine]) -> None:
    engine = started(engines, db)
    machine = engine.service.create_state_machine("m", {"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                                         "End": True}}})
    arn = engine.service.start_execution(machine, {})
    done = engine.wait(arn)
    history = engine.service.get_execution_history(arn)
    assert engine.service.stop_execution(arn, error="Late") == done["stopDate"]
    assert engine.service.describe_execution(arn) == done
    assert engine.service.get_execution_history(arn) == history


def test_without_an_engine_in_the_process_a_stop_is_queued(db: str, engines: list[Engine]) -> None:
    """A Service on the file alone (the CLI beside `stateway serve`) queues the stop in the inbox; the
    engine that drives the file applies it."""
    engine = started(engines, db)
    machine = engine.service.create_state_machine("m", WAIT)
    arn = engine.service.start_execution(machine, {})
    wait_for(lambda: waiting(engine.service, arn))
    engine.stop()
    alone = Service(open_store(db))
    alone.stop_execution(arn, error="Queued")
    assert alone.describe_execution(arn)["status"] == "RUNNING"
    final = started(engines, db).wait(arn, timeout=10)
    assert (final["status"], final["error"]) == ("ABORTED", "Queued")
    assert alone.get_execution_history(arn)[-1]["timestamp"] == final["stopDate"]


def test_a_task_scheduled_and_stopped_in_one_round_never_runs(db: str, engines: list[Engine]) -> None:
    """An execution stored without its first step and a stop queued for it, both while no engine runs:
    the next engine's first round starts it (scheduling its task) and applies the stop together. The
    task's function is never called, and no task row is left."""
    calls: list[Any] = []
    alone = Service(open_store(db))
    machine = alone.create_state_machine("m", {"StartAt": "T", "States": {"T": task("record")}})
    arn = alone.start_execution(machine, {})
    alone.stop_execution(arn, error="Early")
    final = started(engines, db, record=lambda event, context: calls.append(event)).wait(arn, timeout=10)
    assert (final["status"], final["error"]) == ("ABORTED", "Early")
    time.sleep(0.2)  # a function handed to a worker would have been called by now
    assert calls == []
    assert [e["type"] for e in alone.get_execution_history(arn)] == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "ExecutionAborted"]
    assert rows(Path(db.removeprefix("sqlite:///")), "SELECT COUNT(*) FROM tasks") == [(0,)]


def test_stop_date_is_the_closing_events_timestamp(db: str, engines: list[Engine]) -> None:
    """One clock reading for the row and the history, even when the round that ends the execution takes
    a while to compute (here a Map of a thousand Pass iterations, all in its first round)."""
    engine = started(engines, db)
    inline_map = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    for name, definition in (("map", inline_map), ("fail", failing)):
        machine = engine.service.create_state_machine(name, definition)
        arn = engine.service.start_execution(machine, list(range(1000)))
        described = engine.wait(arn)
        closing = engine.service.get_execution_history(arn)[-1]
        assert closing["type"] in ("ExecutionSucceeded", "ExecutionFailed")
        assert described["stopDate"] == closing["timestamp"]
        assert engine.service.list_executions(machine)[0][0]["stopDate"] == closing["timestamp"]
