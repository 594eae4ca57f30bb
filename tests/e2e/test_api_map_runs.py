"""Map Runs over the API: DescribeMapRun and ListMapRuns for distributed Maps, driven with boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest
import test_api_core as core
from support import wait_for
from test_api_core import create, error_of, lambda_arn, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def distributed_map(processor_states: dict[str, Any], start_at: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": start_at,
                                         "States": processor_states},
        "End": True, **fields}}}


DOUBLE_EACH = distributed_map(
    {"Double": {"Type": "Task", "Resource": lambda_arn("double"), "End": True}}, "Double",
    Label="Batch", MaxConcurrency=2, ToleratedFailurePercentage=50)


def _map_run_arn_in_history(sfn: Any, execution: str) -> str:
    events = sfn.get_execution_history(executionArn=execution)["events"]
    started = next(e for e in events if e["type"] == "MapRunStarted")
    return str(started["mapRunStartedEventDetails"]["mapRunArn"])


def test_a_finished_map_run_is_described_and_listed(sfn: Any) -> None:
    arn = create(sfn, "map-run-double", DOUBLE_EACH)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"value": i} for i in range(3)]))[
        "executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    map_run_arn = _map_run_arn_in_history(sfn, execution)
    assert map_run_arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:map-run-double/Batch:")

    runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert [r["mapRunArn"] for r in runs] == [map_run_arn]
    assert runs[0]["executionArn"] == execution
    assert runs[0]["stateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:map-run-double/Batch"
    assert runs[0]["stopDate"] >= runs[0]["startDate"]

    described = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert (described["status"], described["executionArn"]) == ("SUCCEEDED", execution)
    assert (described["maxConcurrency"], described["toleratedFailurePercentage"],
            described["toleratedFailureCount"]) == (2, 50.0, 0)
    counts = {"pending": 0, "running": 0, "succeeded": 3, "failed": 0, "timedOut": 0, "aborted": 0,
              "total": 3, "resultsWritten": 0}
    assert {k: described["itemCounts"][k] for k in counts} == counts
    assert {k: described["executionCounts"][k] for k in counts} == counts
    assert described["stopDate"] >= described["startDate"]


def test_a_failed_map_run(sfn: Any) -> None:
    definition = distributed_map({"Boom": {"Type": "Task", "Resource": lambda_arn("boom"), "End": True}}, "Boom",
                                 MaxConcurrency=1)
    arn = create(sfn, "map-run-boom", definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([{"sku": "a"}, {"sku": "b"}]))[
        "executionArn"]
    assert wait_done(sfn, execution)["status"] == "FAILED"
    described = sfn.describe_map_run(mapRunArn=_map_run_arn_in_history(sfn, execution))
    assert described["status"] == "FAILED"
    counts = described["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["failed"], counts["running"]) == (2, 0, 1, 0)
    assert counts["aborted"] + counts["pending"] == 1


def test_a_running_map_run_counts_items_and_is_aborted_with_its_execution(sfn: Any) -> None:
    definition = distributed_map({"Nap": {"Type": "Wait", "Seconds": 60, "End": True}}, "Nap", MaxConcurrency=2)
    arn = create(sfn, "map-run-nap", definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([1, 2, 3]))["executionArn"]
    runs = wait_for(lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert described["status"] == "RUNNING" and "stopDate" not in described
    counts = described["itemCounts"]
    assert (counts["total"], counts["running"], counts["pending"], counts["succeeded"]) == (3, 2, 1, 0)

    sfn.stop_execution(executionArn=execution)
    assert wait_done(sfn, execution)["status"] == "ABORTED"
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert described["status"] == "ABORTED" and described["itemCounts"]["aborted"] == 3


def test_a_batched_map_run_counts_items_and_executions_apart(sfn: Any) -> None:
    """itemCounts count the items; executionCounts the child executions, each running a batch of them."""
    definition = distributed_map({"Nap": {"Type": "Wait", "Seconds": 60, "End": True}}, "Nap", MaxConcurrency=1,
                                 ItemBatcher={"MaxItemsPerBatch": 2})
    arn = create(sfn, "map-run-batched-nap", definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([1, 2, 3, 4, 5]))["executionArn"]
    runs = wait_for(lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])
    described = wait_for(lambda: (d := sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]))["itemCounts"]["running"]
                         and d)
    # One child execution runs the batch [1, 2]: two items run, three wait; of three batches, two wait.
    shown = ("total", "running", "pending", "succeeded", "aborted")
    assert tuple(described["itemCounts"][k] for k in shown) == (5, 2, 3, 0, 0)
    assert tuple(described["executionCounts"][k] for k in shown) == (3, 1, 2, 0, 0)
    sfn.stop_execution(executionArn=execution)
    assert wait_done(sfn, execution)["status"] == "ABORTED"
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert tuple(described["itemCounts"][k] for k in shown) == (5, 0, 0, 0, 5)
    assert tuple(described["executionCounts"][k] for k in shown) == (3, 0, 0, 0, 3)

    finishing = create(sfn, "map-run-batched-echo", distributed_map(
        {"Echo": {"Type": "Task", "Resource": lambda_arn("echo"), "End": True}}, "Echo", MaxConcurrency=1,
        ItemBatcher={"MaxItemsPerBatch": 2}))
    done = sfn.start_execution(stateMachineArn=finishing, input=json.dumps([1, 2, 3, 4, 5]))["executionArn"]
    assert wait_done(sfn, done)["status"] == "SUCCEEDED"
    described = sfn.describe_map_run(mapRunArn=_map_run_arn_in_history(sfn, done))
    assert tuple(described["itemCounts"][k] for k in shown) == (5, 0, 0, 5, 0)
    assert tuple(described["executionCounts"][k] for k in shown) == (3, 0, 0, 3, 0)


def test_list_map_runs_pages_newest_first(sfn: Any) -> None:
    def each(inner: str) -> dict[str, Any]:
        return {"Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": inner,
                                                 "States": {inner: {"Type": "Pass", "End": True}}}}

    definition = {"StartAt": "First", "States": {"First": {**each("P1"), "Label": "First", "Next": "Second"},
                                                  "Second": {**each("P2"), "Label": "Second", "End": True}}}
    arn = create(sfn, "map-run-two", definition)
    execution = sfn.start_execution(stateMachineArn=arn, input="[1, 2]")["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    everything = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert len(everything) == 2
    first = sfn.list_map_runs(executionArn=execution, maxResults=1)
    second = sfn.list_map_runs(executionArn=execution, maxResults=1, nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert [r["mapRunArn"] for r in first["mapRuns"] + second["mapRuns"]] == [r["mapRunArn"] for r in everything]
    for run in everything:  # Pass-only iterations finish in the commit that starts them
        counts = sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
        assert (counts["total"], counts["succeeded"]) == (2, 2)


def test_map_run_errors(sfn: Any) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:mapRun:nothing/Here:0f0e0d0c-0000-4000-8000-000000000000"
    code, message, status = error_of(sfn.describe_map_run, mapRunArn=missing)
    assert (code, status) == ("ResourceNotFound", 400) and missing in message
    assert error_of(sfn.describe_map_run, mapRunArn="arn:aws:states:us-east-1:1:execution:a:b")[0] == "InvalidArn"
    assert error_of(sfn.describe_map_run, mapRunArn="not-an-arn")[0] == "InvalidArn"
    unknown = "arn:aws:states:us-east-1:123456789012:execution:nothing:here"
    assert error_of(sfn.list_map_runs, executionArn=unknown)[0] == "ExecutionDoesNotExist"
    assert error_of(sfn.list_map_runs, executionArn="arn:aws:states:us-east-1:1:stateMachine:x")[0] == "InvalidArn"
