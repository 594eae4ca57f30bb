"""A redrive of an execution whose distributed Map failed redrives that Map Run (MapRunRedriven, same
ARN, its own redrive count) and re-runs only the items that did not succeed: a Standard child execution
from the state where it stopped, an Express one from its start."""

from __future__ import annotations

import json
from typing import Any

from stateway.asl import interpreter, snapshot
from stateway.asl.events import (
    ExecutionInfo,
    MapRunEnded,
    RedriveRequested,
    ScheduleTask,
    TaskFailed,
    TaskSucceeded,
)
from stateway.asl.frames import REDRIVABLE_PERIOD_MS
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:f"
DEFINITION = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.items",
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": FN, "End": True}}},
    "End": True}}}
MACHINE = parse_machine(DEFINITION)


def start(items: list[int]) -> interpreter.Step:
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", json.dumps({"items": items}), NOW)
    return interpreter.start(MACHINE, info, ShellEnv(NOW))


def settle(step: interpreter.Step, failing: set[int], clock: list[int]) -> tuple[interpreter.Step, list[Any]]:
    """Answer every scheduled task — failing those whose item is in `failing` — until none is left."""
    events = list(step.events)
    pending = [c for c in step.commands if isinstance(c, ScheduleTask)]
    while pending:
        task = pending.pop(0)
        clock[0] += 1
        answer = (TaskFailed(task.task_id, "Boom", None) if task.input in failing
                  else TaskSucceeded(task.task_id, task.input * 10))
        step = interpreter.advance(MACHINE, step.snapshot, answer, ShellEnv(clock[0]))
        events += step.events
        pending += [c for c in step.commands if isinstance(c, ScheduleTask)]
    return step, events


def redrive(step: interpreter.Step, clock: list[int]) -> interpreter.Step:
    clock[0] += 1000
    # Through the store's encoding, as the engine keeps it between the failure and the redrive.
    stored = snapshot.loads(snapshot.dumps(step.snapshot))
    return interpreter.advance(MACHINE, stored, RedriveRequested(clock[0]), ShellEnv(clock[0]))


def of_type(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def details(event: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))


def test_a_redrive_redrives_the_failed_map_run_and_counts_its_redrives() -> None:
    clock = [NOW]
    failed, first = settle(start([1, 2, 3, 4]), {2, 4}, clock)
    assert failed.snapshot.status == "FAILED"
    (started,) = of_type(first, "MapRunStarted")
    map_run_arn = details(started)["mapRunArn"]

    again, second = settle(redrive(failed, clock), {4}, clock)
    assert again.snapshot.status == "FAILED"
    assert not of_type(second, "MapRunStarted")
    (redriven,) = of_type(second, "MapRunRedriven")
    assert details(redriven) == {"mapRunArn": map_run_arn, "redriveCount": 1}

    done, third = settle(redrive(again, clock), set(), clock)
    assert done.snapshot.status == "SUCCEEDED"
    (redriven,) = of_type(third, "MapRunRedriven")
    assert details(redriven) == {"mapRunArn": map_run_arn, "redriveCount": 2}
    assert [e["type"] for e in third if e["type"].startswith("MapRun")] == ["MapRunRedriven", "MapRunSucceeded"]
    assert json.loads(done.snapshot.output) == [10, 20, 30, 40]


def test_only_the_items_that_did_not_succeed_run_again() -> None:
    clock = [NOW]
    failed, _ = settle(start([1, 2, 3]), {2}, clock)
    redriven = redrive(failed, clock)
    # Item 1 succeeded; item 2 failed and item 3, still running then, was aborted: both run again.
    assert [c.input for c in redriven.commands if isinstance(c, ScheduleTask)] == [2, 3]


def test_a_map_run_redriven_as_often_as_aws_allows_fails_the_map_with_states_runtime() -> None:
    clock = [NOW]
    failed, _ = settle(start([1, 2]), {2}, clock)
    kept = failed.snapshot.frames[interpreter.ROOT].failed_join
    assert kept is not None and kept.map_run_arn
    kept.map_run_redrives = 1000
    refused = redrive(failed, clock)
    assert refused.snapshot.status == "FAILED"
    assert refused.snapshot.error == "States.Runtime"
    assert "redriven 1000 times" in (refused.snapshot.cause or "")
    assert not [e for e in refused.events if e["type"].startswith("MapRun")]


def test_a_new_map_run_starts_when_the_failed_one_never_ran() -> None:
    """A Map Run that failed as it read its items keeps nothing to redrive: the redrive starts another,
    as AWS starts a Map Run that was not started before."""
    batched = {**DEFINITION["States"]["Each"], "ItemBatcher": {"MaxItemsPerBatchPath": "$.size"}}
    machine = parse_machine({"StartAt": "Each", "States": {"Each": batched}})
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", json.dumps({"items": [1, 2], "size": 0}), NOW)
    failed = interpreter.start(machine, info, ShellEnv(NOW))
    assert failed.snapshot.status == "FAILED"
    redriven = interpreter.advance(machine, failed.snapshot, RedriveRequested(NOW + 10), ShellEnv(NOW + 10))
    types = [e["type"] for e in redriven.events]
    assert "MapRunStarted" in types and "MapRunRedriven" not in types
    first = details(of_type(failed.events, "MapRunStarted")[0])["mapRunArn"]
    assert details(of_type(redriven.events, "MapRunStarted")[0])["mapRunArn"] != first


def test_a_map_run_redriven_past_the_limit_is_refused_again_by_the_next_redrive() -> None:
    """The refused Map Run stays the Map's: a further redrive finds it and is refused again, rather than
    starting another Map Run."""
    clock = [NOW]
    failed, _ = settle(start([1, 2]), {2}, clock)
    kept = failed.snapshot.frames[interpreter.ROOT].failed_join
    assert kept is not None
    kept.map_run_redrives = 1000
    refused = redrive(redrive(failed, clock), clock)
    assert refused.snapshot.status == "FAILED" and refused.snapshot.error == "States.Runtime"
    assert not [e for e in refused.events if e["type"].startswith("MapRun")]
    assert list(refused.snapshot.frames) == [interpreter.ROOT]


# A child execution of two states: the first always succeeds, the second fails for the items in `failing`.
TWO_STEPS = {"First": {"Type": "Task", "Resource": FN + "-first", "Next": "Second"},
             "Second": {"Type": "Task", "Resource": FN, "End": True}}


def two_step_machine(execution_type: str, processor: dict[str, Any] | None = None, **fields: Any) -> Any:
    return parse_machine({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, **fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          **(processor or {"StartAt": "First", "States": TWO_STEPS})}}}})


def drive(machine: Any, step: interpreter.Step, failing: set[Any], clock: list[int],
          calls: list[tuple[str, Any]]) -> interpreter.Step:
    """`settle` for `machine`, recording each task's (function, input) in `calls`."""
    pending = [c for c in step.commands if isinstance(c, ScheduleTask)]
    while pending:
        task = pending.pop(0)
        calls.append((task.resource.rsplit(":", 1)[1], task.input))
        clock[0] += 1
        answer = (TaskFailed(task.task_id, "Boom", None) if task.resource == FN and task.input in failing
                  else TaskSucceeded(task.task_id, task.input))
        step = interpreter.advance(machine, step.snapshot, answer, ShellEnv(clock[0]))
        pending += [c for c in step.commands if isinstance(c, ScheduleTask)]
    return step


def begin(machine: Any, items: list[Any]) -> interpreter.Step:
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", json.dumps({"items": items}), NOW)
    return interpreter.start(machine, info, ShellEnv(NOW))


def redrive_at(machine: Any, step: interpreter.Step, at: int) -> interpreter.Step:
    stored = snapshot.loads(snapshot.dumps(step.snapshot))
    return interpreter.advance(machine, stored, RedriveRequested(at), ShellEnv(at))


def test_a_map_run_that_succeeds_keeps_no_child_execution_of_its_tolerated_failures() -> None:
    machine = two_step_machine("STANDARD", ToleratedFailureCount=1)
    done = drive(machine, begin(machine, [1, 2]), {2}, [NOW], [])
    assert done.snapshot.status == "SUCCEEDED" and json.loads(done.snapshot.output) == [1, None]
    assert list(done.snapshot.frames) == [interpreter.ROOT]


def test_a_standard_child_redriven_reruns_only_the_failed_branch_of_its_own_parallel() -> None:
    """A redriven child execution is redriven as RedriveExecution redrives an execution: the Parallel it
    failed in keeps the branch that succeeded and runs only the other."""
    processor = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": FN + "-left", "End": True}}},
        {"StartAt": "Right", "States": {"Right": {"Type": "Task", "Resource": FN, "End": True}}}]}}}
    machine = two_step_machine("STANDARD", processor)
    clock, calls = [NOW], []
    failed = drive(machine, begin(machine, [7]), {7}, clock, calls)
    assert failed.snapshot.status == "FAILED"
    assert calls == [("f-left", 7), ("f", 7)]
    calls.clear()
    done = drive(machine, redrive_at(machine, failed, clock[0] + 1000), set(), clock, calls)
    assert done.snapshot.status == "SUCCEEDED" and json.loads(done.snapshot.output) == [[7, 7]]
    assert calls == [("f", 7)]


def test_failures_that_cannot_be_redriven_beyond_the_tolerance_fail_the_redriven_map_run_at_once() -> None:
    """Two children failed more than 14 days before the redrive: not redrivable, their failures stand, and
    they exceed the tolerated one, so the redriven Map Run fails as it starts, running nothing."""
    machine = two_step_machine("STANDARD", ToleratedFailureCount=1)
    clock = [NOW]
    failed = drive(machine, begin(machine, [1, 2, 3]), {2, 3}, clock, [])
    assert failed.snapshot.status == "FAILED"
    at = clock[0] + REDRIVABLE_PERIOD_MS + 1000
    refused = redrive_at(machine, failed, at)
    assert refused.snapshot.status == "FAILED"
    assert not [c for c in refused.commands if isinstance(c, ScheduleTask)]
    assert [e["type"] for e in refused.events if e["type"].startswith("MapRun")] == ["MapRunRedriven", "MapRunFailed"]
    (ended,) = [c for c in refused.commands if isinstance(c, MapRunEnded)]
    assert (ended.status, ended.items, ended.not_redrivable) == ("FAILED", (1, 2), (2, 2))
    # They stay failed for good: a later redrive does not run them either.
    again = redrive_at(machine, refused, at + 1000)
    (ended,) = [c for c in again.commands if isinstance(c, MapRunEnded)]
    assert ended.not_redrivable == (2, 2) and not [c for c in again.commands if isinstance(c, ScheduleTask)]


def test_an_express_child_is_redriven_however_long_ago_it_failed() -> None:
    machine = two_step_machine("EXPRESS")
    clock, calls = [NOW], []
    failed = drive(machine, begin(machine, [1]), {1}, clock, calls)
    calls.clear()
    done = drive(machine, redrive_at(machine, failed, clock[0] + REDRIVABLE_PERIOD_MS + 1000), set(), clock, calls)
    assert done.snapshot.status == "SUCCEEDED"
    assert calls == [("f-first", 1), ("f", 1)]
