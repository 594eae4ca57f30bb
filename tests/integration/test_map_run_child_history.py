"""The histories of a Map Run's STANDARD child executions on a real SQLite file: stored in the engine's rounds
(table `map_run_child_history`, keyed by the Map Run and the child's index), read by GetExecutionHistory of
the child's ARN gap-free from event 1 — across rounds, a failure, a redrive of the Map Run and a restart —
and DescribeStateMachineForExecution of a child, which answers the Map Run's state machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.engine import Engine, errors, map_runs

pytestmark = pytest.mark.integration


class World:
    """`first` passes its item on; `second` holds its calls while `held` is clear, and fails the first call for
    each item in `broken` (the outside world is mended after that)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.broken: set[int] = set()
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def first(self, event: Any, context: Any) -> Any:
        return event

    def second(self, event: Any, context: Any) -> Any:
        assert self.open.wait(60)
        with self._lock:
            self.calls.append(event["value"])
            fail = event["value"] in self.broken and self.calls.count(event["value"]) == 1
        if fail:
            raise RuntimeError(f"item {event['value']} is not ready")
        return event["value"] * 10


@pytest.fixture
def world() -> World:
    return World()


def new_engine(path: Path, world: World) -> Engine:
    return Engine(f"sqlite:///{path}", functions={"first": world.first, "second": world.second},
                  poll_interval=0.05).start()


@pytest.fixture
def engine(tmp_path: Path, world: World) -> Iterator[Engine]:
    started = new_engine(tmp_path / "h.db", world)
    yield started
    world.open.set()
    started.stop()


def definition(label: str | None = "Each", **fields: Any) -> dict[str, Any]:
    each: dict[str, Any] = {"Type": "Map", "End": True, **fields, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "First",
        "States": {"First": task("first", "Second"), "Second": task("second", ResultPath="$.result")}}}
    if label is not None:
        each["Label"] = label
    return {"StartAt": "Each", "States": {"Each": each}}


def items(*values: int) -> list[dict[str, int]]:
    return [{"value": v} for v in values]


def the_map_run(engine: Engine, execution: str) -> str:
    (run,) = wait_for(lambda: map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0])
    return str(run["mapRunArn"])


def child_arns(engine: Engine, map_run: str) -> dict[int, str]:
    """Each child's ARN by the value of its item."""
    found = {}
    for child in map_runs.list_child_executions(engine.store, engine.service.page_tokens, map_run)[0]:
        described = engine.service.describe_execution(child["executionArn"])
        found[json.loads(described["input"])["value"]] = child["executionArn"]
    return found


def history(engine: Engine, arn: str, **paging: Any) -> list[dict[str, Any]]:
    return engine.service.get_execution_history(arn, raw_timestamps=True, **paging)


def shape(events: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    return [(e["id"], e["previousEventId"], e["type"]) for e in events]


RAN = [(1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"), (3, 2, "LambdaFunctionScheduled"),
       (4, 3, "LambdaFunctionStarted"), (5, 4, "LambdaFunctionSucceeded"), (6, 5, "TaskStateExited"),
       (7, 6, "TaskStateEntered"), (8, 7, "LambdaFunctionScheduled"), (9, 8, "LambdaFunctionStarted")]


def test_a_child_history_is_stored_as_it_runs_and_read_in_pages(engine: Engine, world: World,
                                                                  tmp_path: Path) -> None:
    world.open.clear()  # each child waits in Second: its history so far is stored, round by round
    machine = engine.service.create_state_machine("paged", definition(MaxConcurrency=2))
    execution = engine.service.start_execution(machine, items(0, 1, 2))
    map_run = the_map_run(engine, execution)
    arns = wait_for(lambda: (found := child_arns(engine, map_run)) and len(found) == 2 and found)
    wait_for(lambda: all(len(history(engine, arn)) == 9 for arn in arns.values()))
    assert shape(history(engine, arns[0])) == RAN

    world.open.set()
    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    arns = child_arns(engine, map_run)
    for value, arn in arns.items():
        events = history(engine, arn)
        assert shape(events) == [*RAN, (10, 9, "LambdaFunctionSucceeded"), (11, 10, "TaskStateExited"),
                                 (12, 11, "ExecutionSucceeded")]
        started, ended = events[0]["executionStartedEventDetails"], events[-1]["executionSucceededEventDetails"]
        assert json.loads(started["input"]) == {"value": value}
        assert started["roleArn"] == engine.service.describe_state_machine(machine)["roleArn"]
        assert json.loads(ended["output"]) == {"value": value, "result": value * 10}
        described = engine.service.describe_execution(arn)
        assert (events[0]["timestamp"], events[-1]["timestamp"]) == (
            int(described["startDate"].timestamp() * 1000), int(described["stopDate"].timestamp() * 1000))
    # Pages, forwards and backwards, as any execution's history is read.
    arn = arns[2]
    whole = history(engine, arn)
    assert history(engine, arn, max_results=5) == whole[:5]
    assert history(engine, arn, next_token="5", max_results=4) == whole[5:9]
    assert history(engine, arn, reverse=True) == whole[::-1]
    assert history(engine, arn, reverse=True, next_token="7", max_results=3) == whole[5:2:-1]
    bare = history(engine, arn, include_execution_data=False)
    assert "input" not in bare[0]["executionStartedEventDetails"] and "output" not in bare[-1][
        "executionSucceededEventDetails"]
    # Keyed by the Map Run's id and the child's index, in chunks that neither overlap nor leave a gap.
    stored = rows(tmp_path / "h.db", "SELECT map_run, idx, first_id, last_id FROM map_run_child_history "
                                     "ORDER BY idx, last_id")
    assert {(run, idx) for run, idx, _, _ in stored} == {(stored[0][0], i) for i in range(3)}
    for index in range(3):
        spans = [(first, last) for _, idx, first, last in stored if idx == index]
        assert spans[0][0] == 1 and spans[-1][1] == 12
        assert all(later[0] == earlier[1] + 1 for earlier, later in zip(spans, spans[1:], strict=False))
    # The parent's history holds none of it.
    assert not {"TaskStateEntered", "LambdaFunctionScheduled"} & {e["type"] for e in history(engine, execution)}


def test_a_failed_child_and_its_redrive_continue_one_history(engine: Engine, world: World) -> None:
    world.broken = {1}
    machine = engine.service.create_state_machine("redriven", definition(None, MaxConcurrency=1))
    execution = engine.service.start_execution(machine, items(0, 1, 2))
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    map_run = the_map_run(engine, execution)
    arns = child_arns(engine, map_run)
    assert set(arns) == {0, 1}  # item 2 never started: the Map Run failed first
    failed = history(engine, arns[1])
    assert shape(failed) == [*RAN, (10, 9, "LambdaFunctionFailed"), (11, 10, "ExecutionFailed")]
    details = failed[-1]["executionFailedEventDetails"]
    assert details["error"] == "RuntimeError" and "item 1 is not ready" in details["cause"]
    assert (details["error"], details["cause"]) == (engine.service.describe_execution(arns[1])["error"],
                                                    engine.service.describe_execution(arns[1])["cause"])

    engine.service.redrive_execution(execution)
    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    again = history(engine, arns[1])
    assert shape(again[:11]) == shape(failed)
    # Continued from the state that failed: First is not run again.
    assert shape(again[11:]) == [(12, 11, "ExecutionRedriven"), (13, 12, "TaskStateEntered"),
                                 (14, 13, "LambdaFunctionScheduled"), (15, 14, "LambdaFunctionStarted"),
                                 (16, 15, "LambdaFunctionSucceeded"), (17, 16, "TaskStateExited"),
                                 (18, 17, "ExecutionSucceeded")]
    assert again[11]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert again[12]["stateEnteredEventDetails"]["name"] == "Second"
    described = engine.service.describe_execution(arns[1])
    assert (described["redriveCount"], again[11]["timestamp"]) == (1, int(described["redriveDate"].timestamp() * 1000))
    # A Map without a Label is found from the parent's history: its Map Run's last event is MapRunRedriven.
    assert json.loads(engine.service.describe_state_machine_for_execution(arns[1])["definition"])["StartAt"] == "First"
    # The child that succeeded before keeps its history; the one that never started begins its own.
    assert shape(history(engine, arns[0]))[-1] == (12, 11, "ExecutionSucceeded")
    assert shape(history(engine, child_arns(engine, map_run)[2])) == [
        *RAN, (10, 9, "LambdaFunctionSucceeded"), (11, 10, "TaskStateExited"), (12, 11, "ExecutionSucceeded")]


def test_a_child_history_goes_on_gap_free_after_a_restart(tmp_path: Path, world: World) -> None:
    world.open.clear()
    engine = new_engine(tmp_path / "r.db", world)
    machine = engine.service.create_state_machine("restart", definition())
    execution = engine.service.start_execution(machine, items(0))
    (arn,) = wait_for(lambda: child_arns(engine, the_map_run(engine, execution)).values())
    wait_for(lambda: len(history(engine, arn)) == 9)
    engine.stop()  # Second is still running: it runs again after the restart

    world.open.set()
    engine = new_engine(tmp_path / "r.db", world)
    try:
        assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
        events = history(engine, arn)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert [e["type"] for e in events].count("LambdaFunctionStarted") == 2  # First's and Second's, once each
        assert shape(events)[-1] == (12, 11, "ExecutionSucceeded")
    finally:
        engine.stop()


def test_a_child_is_described_with_the_map_runs_state_machine(engine: Engine, world: World) -> None:
    for label in ("Named", None):
        machine = engine.service.create_state_machine(f"sm-{label}", {"StartAt": "Before", "States": {
            "Before": {"Type": "Pass", "Next": "Around"},
            "Around": {"Type": "Parallel", "End": True, "Branches": [definition(label)]}}})
        execution = engine.service.start_execution(machine, items(0))
        assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
        map_run = the_map_run(engine, execution)
        (arn,) = child_arns(engine, map_run).values()
        described = engine.service.describe_state_machine_for_execution(arn)
        parent = engine.service.describe_state_machine_for_execution(execution)
        run_label = map_run.split(":")[6].split("/")[1]  # the Label, or the UUID of a Map without one
        assert (described["stateMachineArn"], described["name"], described["label"], described["mapRunArn"]) == (
            f"{machine}/{run_label}", f"sm-{label}/{run_label}", run_label, map_run)
        processor = definition(label)["States"]["Each"]["ItemProcessor"]
        assert json.loads(described["definition"]) == {"StartAt": "First", "States": processor["States"]}
        for member in ("roleArn", "updateDate", "loggingConfiguration", "tracingConfiguration"):
            assert described[member] == parent[member]
    with pytest.raises(errors.ExecutionDoesNotExist):
        engine.service.describe_state_machine_for_execution(arn.replace(arn.split(":")[7][-12:], "f" * 12))
