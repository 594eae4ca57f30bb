"""Inside a distributed Map's child execution, `$$.Execution` and `$$.StateMachine` name the child, as on AWS:
its own ARN under the Map Run's state machine (`MACHINE/LABEL`), a name made from the Map Run and the item's
index (the same when a round is recomputed after a crash), its start time, input and redrive count."""

from __future__ import annotations

import json
import re
from typing import Any

from stateway.asl import interpreter, snapshot
from stateway.asl.containers import child_execution_name
from stateway.asl.events import (
    ChildExecutionChanged,
    ExecutionInfo,
    RedriveRequested,
    ScheduleTask,
    TaskFailed,
    TaskSucceeded,
)
from stateway.asl.parse import parse_machine
from stateway.asl.timestamps import format_timestamp
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:f"
EXECUTION = "arn:aws:states:us-east-1:1:execution:M:parent"
SEEN = {"execution.$": "$$.Execution", "machine.$": "$$.StateMachine", "item.$": "$"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def machine(execution_type: str = "STANDARD", **fields: Any) -> Any:
    return parse_machine({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Lab", "ItemsPath": "$.items", **fields,
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "parent.$": "$$.Execution.Id"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": "Work", "States": {"Work": {
                              "Type": "Task", "Resource": FN, "Parameters": SEEN, "End": True}}},
        "End": True}}})


def start(sm: Any, items: list[int]) -> interpreter.Step:
    info = ExecutionInfo(EXECUTION, "parent", "arn:aws:states:us-east-1:1:stateMachine:M", "M", "role",
                         json.dumps({"items": items}), NOW)
    return interpreter.start(sm, info, ShellEnv(NOW))


def tasks(step: interpreter.Step) -> list[ScheduleTask]:
    return [c for c in step.commands if isinstance(c, ScheduleTask)]


def map_run_arn(step: interpreter.Step) -> str:
    started = next(e for e in step.events if e["type"] == "MapRunStarted")
    return str(started["mapRunStartedEventDetails"]["mapRunArn"])


def test_the_context_inside_a_child_execution_names_the_child() -> None:
    step = start(machine(), [7, 8])
    run = map_run_arn(step)
    run_uuid = run.split(":")[7]
    seen = [t.input for t in tasks(step)]
    names = [child_execution_name(run, 0), child_execution_name(run, 1)]
    assert all(UUID.fullmatch(name) for name in names) and names[0] != names[1]
    for index, value in enumerate((7, 8)):
        execution = seen[index]["execution"]
        assert execution == {
            "Id": f"arn:aws:states:us-east-1:1:execution:M/Lab:{names[index]}", "Name": names[index],
            "Input": {"value": value, "parent": EXECUTION}, "StartTime": format_timestamp(NOW),
            "RoleArn": "role", "RedriveCount": 0}
        assert seen[index]["machine"] == {"Id": "arn:aws:states:us-east-1:1:stateMachine:M/Lab", "Name": "M/Lab"}
    assert run_uuid not in seen[0]["execution"]["Id"]  # a Standard child's ARN ends in its name
    # The shell hears of each child as it starts, under the same ARN, with its input.
    started = [c for c in step.commands if isinstance(c, ChildExecutionChanged)]
    assert [(c.execution_arn, c.status, c.index, json.loads(c.input or "")) for c in started] == [
        (seen[i]["execution"]["Id"], "RUNNING", i, {"value": v, "parent": EXECUTION}) for i, v in enumerate((7, 8))]


def test_an_express_child_execution_has_an_express_arn_and_no_redrive_count() -> None:
    step = start(machine("EXPRESS"), [1])
    run = map_run_arn(step)
    (seen,) = [t.input for t in tasks(step)]
    name = child_execution_name(run, 0)
    assert seen["execution"]["Id"] == f"arn:aws:states:us-east-1:1:express:M/Lab:{name}:{run.split(':')[7]}"
    assert seen["execution"]["Name"] == name
    assert "RedriveCount" not in seen["execution"]


def test_a_child_keeps_its_name_when_a_round_is_recomputed() -> None:
    """The engine recomputes a round that was not stored (a crash) from the stored snapshot, with other
    UUIDs and frame ids numbered in whatever order the answers come: the child started in it is named the same."""
    sm = machine(MaxConcurrency=1)
    first = start(sm, [0, 1])
    stored = snapshot.dumps(first.snapshot)
    (task,) = tasks(first)
    seen = []
    for attempt in range(2):
        step = interpreter.advance(sm, snapshot.loads(stored), TaskSucceeded(task.task_id, "ok"), ShellEnv(NOW + 5 + attempt))
        (next_task,) = tasks(step)
        seen.append(next_task.input["execution"])
    assert seen[0]["Id"] == seen[1]["Id"]
    assert seen[0]["Name"] == child_execution_name(map_run_arn(first), 1)


def test_a_redriven_standard_child_keeps_its_arn_and_counts_its_redrive_an_express_one_is_another() -> None:
    for execution_type in ("STANDARD", "EXPRESS"):
        sm = machine(execution_type)
        step = start(sm, [0])
        (task,) = tasks(step)
        before = task.input["execution"]
        failed = interpreter.advance(sm, step.snapshot, TaskFailed(task.task_id, "Boom", None), ShellEnv(NOW + 1))
        ended = [c for c in failed.commands if isinstance(c, ChildExecutionChanged)]
        assert [(c.execution_arn, c.status, c.error) for c in ended] == [(before["Id"], "FAILED", "Boom")]
        redriven = interpreter.advance(sm, snapshot.loads(snapshot.dumps(failed.snapshot)), RedriveRequested(NOW + 9),
                                       ShellEnv(NOW + 9))
        (again,) = tasks(redriven)
        after = again.input["execution"]
        changes = [(c.status, c.redriven) for c in redriven.commands if isinstance(c, ChildExecutionChanged)]
        if execution_type == "STANDARD":  # continued: the same execution, started when it first started
            assert (after["Id"], after["StartTime"], after["RedriveCount"]) == (before["Id"], before["StartTime"], 1)
            assert changes == [("PENDING_REDRIVE", False), ("RUNNING", True)]
        else:  # started again as another execution
            assert after["Id"] != before["Id"] and after["StartTime"] == format_timestamp(NOW + 9)
            assert after["Name"] == child_execution_name(map_run_arn(step), 0, 1)
            assert changes == [("RUNNING", False)]


def test_a_map_run_inside_a_child_execution_names_its_own_children() -> None:
    inner = {"Type": "Map", "Label": "In", "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": FN, "Parameters": SEEN, "End": True}}}, "End": True}
    sm = parse_machine({"StartAt": "Out", "States": {"Out": {
        "Type": "Map", "Label": "Out", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Inner",
            "States": {"Inner": inner}}, "End": True}}})
    info = ExecutionInfo(EXECUTION, "parent", "arn:aws:states:us-east-1:1:stateMachine:M", "M", "role", "[[1]]", NOW)
    step = interpreter.start(sm, info, ShellEnv(NOW))
    (task,) = tasks(step)
    assert re.fullmatch(r"arn:aws:states:us-east-1:1:execution:M/In:" + UUID.pattern, task.input["execution"]["Id"])
    assert task.input["execution"]["Input"] == 1
    # Only the outer Map Run is in the parent's history (and stored): only its child is reported.
    reported = [c for c in step.commands if isinstance(c, ChildExecutionChanged)]
    assert [c.execution_arn.split(":")[6] for c in reported] == ["M/Out"]
