"""The rows of a Map Run's child executions on a real SQLite file: written in the rounds that start, redrive and
end them, so that ListExecutions of the Map Run and DescribeExecution of a child follow what the children do
— while they run, when a stop or a failure around the Map cuts them short, across a redrive and a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import task, wait_for

from stateway.engine import Engine, map_runs

pytestmark = pytest.mark.integration


class Gate:
    """A function that holds each call until the test opens the gate, and fails the calls for items in `failing`."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.failing: set[int] = set()

    def __call__(self, event: Any, context: Any) -> Any:
        assert self.open.wait(60)
        if event["value"] in self.failing:
            raise RuntimeError(f"item {event['value']} is not ready")
        return event["value"] * 10


@pytest.fixture
def gate() -> Gate:
    return Gate()


def new_engine(path: Path, gate: Gate) -> Engine:
    return Engine(f"sqlite:///{path}", functions={"gate": gate}, poll_interval=0.05).start()


@pytest.fixture
def engine(tmp_path: Path, gate: Gate) -> Iterator[Engine]:
    started = new_engine(tmp_path / "e.db", gate)
    yield started
    gate.open.set()
    started.stop()


def each(execution_type: str = "STANDARD", **fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "Label": "Each", **fields, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}, "StartAt": "Seen",
        "States": {"Seen": {"Type": "Pass", "Parameters": {"value.$": "$.value", "id.$": "$$.Execution.Id"},
                            "Next": "Work"},
                   "Work": task("gate", ResultPath="$.result")}}}


def children(engine: Engine, map_run: str, **filters: Any) -> list[dict[str, Any]]:
    return map_runs.list_child_executions(engine.store, engine.service.page_tokens, map_run, **filters)[0]


def statuses(engine: Engine, map_run: str) -> dict[int, str]:
    """Each child's status by the value of its item (read from its stored input)."""
    found = {}
    for child in children(engine, map_run):
        described = engine.service.describe_execution(child["executionArn"])
        found[json.loads(described["input"])["value"]] = described["status"]
    return found


def the_map_run(engine: Engine, execution: str) -> str:
    (run,) = wait_for(lambda: map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0])
    return str(run["mapRunArn"])


def items(*values: int) -> list[dict[str, int]]:
    return [{"value": v} for v in values]


def test_running_children_are_listed_and_a_stop_aborts_them(engine: Engine) -> None:
    machine = engine.service.create_state_machine("stop", {"StartAt": "Each", "States": {
        "Each": {**each(MaxConcurrency=2), "End": True}}})
    execution = engine.service.start_execution(machine, items(0, 1, 2))
    map_run = the_map_run(engine, execution)
    wait_for(lambda: statuses(engine, map_run) == {0: "RUNNING", 1: "RUNNING"})  # the third waits its turn
    assert [c["status"] for c in children(engine, map_run, status="RUNNING")] == ["RUNNING", "RUNNING"]
    assert all("stopDate" not in c for c in children(engine, map_run))

    engine.service.stop_execution(execution)
    assert engine.wait(execution, timeout=30)["status"] == "ABORTED"
    assert statuses(engine, map_run) == {0: "ABORTED", 1: "ABORTED"}
    stopped = engine.service.describe_execution(execution)["stopDate"]
    assert {c["stopDate"] for c in children(engine, map_run)} == {stopped}


def test_a_failure_around_the_map_aborts_its_children(engine: Engine, gate: Gate) -> None:
    """A Parallel branch that fails cuts the other branch's Map Run short, and with it its children."""
    machine = engine.service.create_state_machine("around", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Each", "States": {"Each": {**each(), "ItemsPath": "$.items", "End": True}}},
            {"StartAt": "Boom", "States": {"Boom": {"Type": "Wait", "Seconds": 1, "Next": "Fail"},
                                           "Fail": {"Type": "Fail", "Error": "Broken"}}}]}}})
    execution = engine.service.start_execution(machine, {"items": items(0, 1)})
    map_run = the_map_run(engine, execution)
    wait_for(lambda: statuses(engine, map_run) == {0: "RUNNING", 1: "RUNNING"})
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    assert statuses(engine, map_run) == {0: "ABORTED", 1: "ABORTED"}


def test_a_stop_aborts_the_children_of_a_map_run_inside_a_parallel_branch(engine: Engine) -> None:
    machine = engine.service.create_state_machine("inside", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Each", "States": {"Each": {**each(), "ItemsPath": "$.items", "End": True}}}]}}})
    execution = engine.service.start_execution(machine, {"items": items(0)})
    map_run = the_map_run(engine, execution)
    wait_for(lambda: statuses(engine, map_run) == {0: "RUNNING"})
    engine.service.stop_execution(execution)
    assert engine.wait(execution, timeout=30)["status"] == "ABORTED"
    assert statuses(engine, map_run) == {0: "ABORTED"}


def test_a_map_run_that_fails_aborts_its_running_children_while_the_execution_goes_on(
        engine: Engine, gate: Gate) -> None:
    """Item 0 fails at once and fails the Map Run (no failure tolerated); item 1, still running, is aborted;
    a Catch lets the execution go on waiting, so only the Map Run's end can have aborted it."""
    quick = {"Type": "Choice", "Choices": [{"Variable": "$.value", "NumericEquals": 0, "Next": "Boom"}],
             "Default": "Seen"}
    failing = each()
    failing["ItemProcessor"]["States"].update({"Quick": quick, "Boom": {"Type": "Fail", "Error": "Boom"}})
    failing["ItemProcessor"]["StartAt"] = "Quick"
    machine = engine.service.create_state_machine("caught", {"StartAt": "Each", "States": {
        "Each": {**failing, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Later"}], "End": True},
        "Later": {"Type": "Wait", "Seconds": 60, "End": True}}})
    execution = engine.service.start_execution(machine, items(1, 0))
    map_run = the_map_run(engine, execution)
    wait_for(lambda: statuses(engine, map_run) == {0: "FAILED", 1: "ABORTED"})
    assert engine.service.describe_execution(execution)["status"] == "RUNNING"
    failed = children(engine, map_run, status="FAILED")[0]
    assert engine.service.describe_execution(failed["executionArn"])["error"] == "Boom"


def test_a_redrive_shows_children_pending_then_running_again(engine: Engine, gate: Gate) -> None:
    machine = engine.service.create_state_machine("again", {"StartAt": "Each", "States": {
        "Each": {**each(MaxConcurrency=1, ToleratedFailureCount=1), "End": True}}})
    gate.failing = {1, 2}
    gate.open.set()
    execution = engine.service.start_execution(machine, items(0, 1, 2))
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    map_run = the_map_run(engine, execution)
    assert statuses(engine, map_run) == {0: "SUCCEEDED", 1: "FAILED", 2: "FAILED"}
    failed = {c["executionArn"] for c in children(engine, map_run, status="FAILED")}

    gate.open.clear()
    gate.failing = set()
    engine.service.redrive_execution(execution)
    # One at a time: one child runs again, the other waits for its turn.
    wait_for(lambda: sorted(statuses(engine, map_run).values()) == ["PENDING_REDRIVE", "RUNNING", "SUCCEEDED"])
    assert len(children(engine, map_run, status="PENDING_REDRIVE")) == 1
    gate.open.set()
    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    assert statuses(engine, map_run) == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "SUCCEEDED"}
    redriven = children(engine, map_run, redrive_filter="REDRIVEN")
    assert {c["executionArn"] for c in redriven} == failed and {c["redriveCount"] for c in redriven} == {1}
    for arn in failed:
        described = engine.service.describe_execution(arn)
        assert "error" not in described and json.loads(described["output"])["result"] in (10, 20)


def test_children_keep_their_names_and_rows_across_a_restart(tmp_path: Path, gate: Gate) -> None:
    engine = new_engine(tmp_path / "r.db", gate)
    machine = engine.service.create_state_machine("restart", {"StartAt": "Each", "States": {
        "Each": {**each(), "End": True}}})
    execution = engine.service.start_execution(machine, items(0, 1))
    map_run = the_map_run(engine, execution)
    wait_for(lambda: statuses(engine, map_run) == {0: "RUNNING", 1: "RUNNING"})
    listed = {c["executionArn"] for c in children(engine, map_run)}
    engine.stop()

    gate.open.set()
    engine = new_engine(tmp_path / "r.db", gate)
    try:
        done = engine.wait(execution, timeout=30)
        assert done["status"] == "SUCCEEDED"
        # The ARN each child read before the restart is the one listed before and after it.
        assert {o["id"] for o in json.loads(done["output"])} == listed
        assert {c["executionArn"] for c in children(engine, map_run, status="SUCCEEDED")} == listed
    finally:
        engine.stop()


def test_a_batched_child_counts_its_items(engine: Engine, gate: Gate) -> None:
    gate.open.set()
    machine = engine.service.create_state_machine("batched", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemBatcher": {"MaxItemsPerBatch": 2}, "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}}}}}})
    execution = engine.service.start_execution(machine, [1, 2, 3, 4, 5])
    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    listed = children(engine, the_map_run(engine, execution))
    assert sorted(c["itemCount"] for c in listed) == [1, 2, 2]
