"""A Map Run's child executions over the API, driven with boto3: ListExecutions with a `mapRunArn` lists them
(pages, status and redrive filters), DescribeExecution of a child's ARN describes it, GetExecutionHistory and
DescribeStateMachineForExecution answer for it, and the ARN a child reads as `$$.Execution.Id` is the one the
API lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
import test_api_core as core
from test_api_core import create, error_of, lambda_arn, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures

SEEN = {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
                                       "machine.$": "$$.StateMachine.Id", "value.$": "$.value"}, "Next": "Double"}


def distributed(execution_type: str = "STANDARD", **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Kids", "End": True, **fields, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}, "StartAt": "Seen",
            "States": {"Seen": SEEN, "Double": {"Type": "Task", "Resource": lambda_arn("double"),
                                                "ResultPath": "$.doubled", "End": True}}}}}}


def map_run_of(sfn: Any, execution: str) -> str:
    (run,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    return str(run["mapRunArn"])


def test_list_executions_of_a_map_run_lists_its_children_as_they_name_themselves(sfn: Any) -> None:
    arn = create(sfn, "kids", distributed(MaxConcurrency=1))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"value": i} for i in range(3)]))[
        "executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
    map_run = map_run_of(sfn, execution)

    children = sfn.list_executions(mapRunArn=map_run)["executions"]
    # Newest first: with MaxConcurrency 1 the last item started last.
    assert [c["executionArn"] for c in children] == [o["id"] for o in reversed(output)]
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:kids/Kids"
    for child, seen in zip(children, reversed(output), strict=True):
        assert child["executionArn"] == f"arn:aws:states:us-east-1:123456789012:execution:kids/Kids:{seen['name']}"
        assert (child["name"], child["stateMachineArn"], seen["machine"]) == (seen["name"], machine, machine)
        assert (child["status"], child["mapRunArn"], child["itemCount"]) == ("SUCCEEDED", map_run, 1)
        assert child["stopDate"] >= child["startDate"]
        assert "redriveCount" not in child

    first = sfn.list_executions(mapRunArn=map_run, maxResults=2)
    rest = sfn.list_executions(mapRunArn=map_run, nextToken=first["nextToken"])
    assert [c["executionArn"] for c in first["executions"] + rest["executions"]] == [
        c["executionArn"] for c in children]
    assert "nextToken" not in rest
    assert sfn.list_executions(mapRunArn=map_run, statusFilter="FAILED")["executions"] == []
    assert len(sfn.list_executions(mapRunArn=map_run, redriveFilter="NOT_REDRIVEN")["executions"]) == 3

    described = sfn.describe_execution(executionArn=output[1]["id"])
    assert (described["status"], described["name"], described["stateMachineArn"], described["mapRunArn"]) == (
        "SUCCEEDED", output[1]["name"], machine, map_run)
    assert json.loads(described["input"]) == {"value": 1}
    assert json.loads(described["output"]) == {**output[1], "doubled": {"value": 2}}
    assert (described["redriveCount"], described["redriveStatus"]) == (0, "NOT_REDRIVABLE")
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert described["stopDate"] >= described["startDate"]


def test_a_failed_child_is_described_with_its_error_and_redriven_with_its_map_run(sfn: Any) -> None:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Boom", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "B",
            "States": {"B": {"Type": "Task", "Resource": lambda_arn("boom"), "End": True}}}}}}
    arn = create(sfn, "kids-boom", definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"sku": "a"}, {"sku": "b"}]))[
        "executionArn"]
    assert wait_done(sfn, execution)["status"] == "FAILED"
    map_run = map_run_of(sfn, execution)
    # The first child failed and failed the Map Run; the second never started: it is no execution.
    (child,) = sfn.list_executions(mapRunArn=map_run)["executions"]
    assert child["status"] == "FAILED"
    assert sfn.list_executions(mapRunArn=map_run, statusFilter="FAILED")["executions"] == [child]
    described = sfn.describe_execution(executionArn=child["executionArn"])
    assert described["error"] == "OrderRejected"
    assert json.loads(described["cause"])["errorMessage"] == "no stock for a"
    assert "output" not in described
    assert described["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"

    # A redrive of the parent continues that child: RUNNING again (then failed again), redriven once.
    sfn.redrive_execution(executionArn=execution)
    assert wait_done(sfn, execution)["status"] == "FAILED"
    redriven = sfn.describe_execution(executionArn=child["executionArn"])
    assert (redriven["status"], redriven["redriveCount"]) == ("FAILED", 1)
    assert redriven["redriveDate"] >= redriven["startDate"] == described["startDate"]
    (listed,) = sfn.list_executions(mapRunArn=map_run, redriveFilter="REDRIVEN")["executions"]
    assert (listed["executionArn"], listed["redriveCount"]) == (child["executionArn"], 1)


def test_an_express_child_is_described_but_has_no_redrive_status(sfn: Any) -> None:
    arn = create(sfn, "kids-express", distributed("EXPRESS"))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"value": 4}]))["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    (seen,) = json.loads(sfn.describe_execution(executionArn=execution)["output"])
    map_run = map_run_of(sfn, execution)
    assert seen["id"] == f"arn:aws:states:us-east-1:123456789012:express:kids-express/Kids:{seen['name']}:" \
                         f"{map_run.split(':')[7]}"
    described = sfn.describe_execution(executionArn=seen["id"])
    assert (described["status"], described["name"], described["mapRunArn"]) == ("SUCCEEDED", seen["name"], map_run)
    assert "redriveCount" not in described and "redriveStatus" not in described
    assert [c["executionArn"] for c in sfn.list_executions(mapRunArn=map_run)["executions"]] == [seen["id"]]


def test_a_standard_child_has_its_own_history_and_state_machine(sfn: Any) -> None:
    arn = create(sfn, "kids-history", distributed())
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"value": 1}]))["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    map_run = map_run_of(sfn, execution)
    (child,) = sfn.list_executions(mapRunArn=map_run)["executions"]
    events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "TaskStateEntered"), (5, 4, "LambdaFunctionScheduled"), (6, 5, "LambdaFunctionStarted"),
        (7, 6, "LambdaFunctionSucceeded"), (8, 7, "TaskStateExited"), (9, 8, "ExecutionSucceeded")]
    started = events[0]["executionStartedEventDetails"]
    assert (json.loads(started["input"]), started["roleArn"]) == ({"value": 1}, core.ROLE)
    assert events[-1]["executionSucceededEventDetails"]["output"] == sfn.describe_execution(
        executionArn=child["executionArn"])["output"]
    # Paged, backwards, and without the data, as any execution's history.
    first = sfn.get_execution_history(executionArn=child["executionArn"], maxResults=4, reverseOrder=True)
    rest = sfn.get_execution_history(executionArn=child["executionArn"], reverseOrder=True,
                                     nextToken=first["nextToken"])
    assert [e["id"] for e in first["events"] + rest["events"]] == list(range(9, 0, -1))
    bare = sfn.get_execution_history(executionArn=child["executionArn"], includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"] and "output" not in bare[-1][
        "executionSucceededEventDetails"]

    machine = sfn.describe_state_machine_for_execution(executionArn=child["executionArn"])
    assert (machine["stateMachineArn"], machine["name"], machine["label"], machine["mapRunArn"]) == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:kids-history/Kids", "kids-history/Kids", "Kids", map_run)
    processor = distributed()["States"]["Each"]["ItemProcessor"]
    assert json.loads(machine["definition"]) == {"StartAt": processor["StartAt"], "States": processor["States"]}
    assert machine["roleArn"] == sfn.describe_state_machine(stateMachineArn=arn)["roleArn"]


def test_an_express_child_has_no_history_and_an_unknown_child_does_not_exist(sfn: Any) -> None:
    arn = create(sfn, "kids-express-history", distributed("EXPRESS"))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"value": 1}]))["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    map_run = map_run_of(sfn, execution)
    (child,) = sfn.list_executions(mapRunArn=map_run)["executions"]
    # AWS keeps no history of an Express execution: see docs/api.md.
    assert error_of(sfn.get_execution_history, executionArn=child["executionArn"]) == (
        "ExecutionDoesNotExist", f"Execution Does Not Exist: '{child['executionArn']}'", 400)
    assert sfn.describe_state_machine_for_execution(executionArn=child["executionArn"])["mapRunArn"] == map_run
    unknown = child["executionArn"].replace(child["name"], "00000000-0000-5000-8000-000000000000")
    for action in (sfn.describe_execution, sfn.get_execution_history, sfn.describe_state_machine_for_execution):
        assert error_of(action, executionArn=unknown) == (
            "ExecutionDoesNotExist", f"Execution Does Not Exist: '{unknown}'", 400)
    unknown_express = "arn:aws:states:us-east-1:123456789012:express:kids-history/Kids:x:y"
    assert error_of(sfn.describe_execution, executionArn=unknown_express)[0] == "ExecutionDoesNotExist"
