"""RedriveExecution over the API: a failed execution continues where it failed, re-running only the
Map iterations that failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_api_core as core
from test_api_core import create, error_of, lambda_arn, wait_done

pytestmark = pytest.mark.e2e

# Fails for an item until a marker file for it exists: the outside world gets fixed, then we redrive.
PICKY = (
    "import os\n\n"
    "def handler(event, context):\n"
    "    with open(os.path.join(event['dir'], 'calls.log'), 'a') as log:\n"
    "        log.write(str(event['item']) + '\\n')\n"
    "    if not os.path.exists(os.path.join(event['dir'], 'ok-' + str(event['item']))):\n"
    "        raise RuntimeError('item ' + str(event['item']) + ' is not ready')\n"
    "    return event['item'] * 10\n"
)


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = tmp_path_factory.mktemp("redrive")
    functions = workdir / "functions"
    functions.mkdir()
    (functions / "picky.py").write_text(PICKY)
    server = core.Server(workdir, functions).start()
    yield server.client()
    assert server.stop() == 0, server.log.read_text()


def test_redrive_reruns_only_the_failed_map_iterations(sfn: Any, tmp_path: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "dir.$": "$.dir"},
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": {
            "Type": "Task", "Resource": lambda_arn("picky"), "End": True}}},
        "End": True}}}
    arn = create(sfn, "redrive-map", definition)
    for item in (1, 2):
        (tmp_path / f"ok-{item}").touch()
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        {"items": [1, 2, 3], "dir": str(tmp_path)}))["executionArn"]
    failed = wait_done(sfn, execution)
    assert failed["status"] == "FAILED" and failed["error"] == "RuntimeError"

    code, message, _ = error_of(sfn.redrive_execution, executionArn=arn.replace("stateMachine", "execution") + ":x")
    assert code == "ExecutionDoesNotExist", message
    (tmp_path / "ok-3").touch()
    assert sfn.redrive_execution(executionArn=execution)["redriveDate"]
    done = wait_done(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [10, 20, 30]
    assert done["redriveCount"] == 1
    calls = (tmp_path / "calls.log").read_text().split()
    assert calls == ["1", "2", "3", "3"], "only the failed iteration ran again"

    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    types = [e["type"] for e in events]
    assert types.count("ExecutionFailed") == 1 and types.count("ExecutionSucceeded") == 1
    redriven = types.index("ExecutionRedriven")
    assert events[redriven]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert types[redriven + 1] == "MapStateEntered"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))

    code, message, _ = error_of(sfn.redrive_execution, executionArn=execution)
    assert code == "ExecutionNotRedrivable", message


def test_redrive_a_failed_task_state(sfn: Any, tmp_path: Path) -> None:
    arn = create(sfn, "redrive-task", {"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Parameters": {"item": 7, "dir.$": "$.dir"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": lambda_arn("picky"), "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"dir": str(tmp_path)}))["executionArn"]
    assert wait_done(sfn, execution)["status"] == "FAILED"
    (tmp_path / "ok-7").touch()
    sfn.redrive_execution(executionArn=execution)
    done = wait_done(sfn, execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == 70
    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    assert types.count("PassStateEntered") == 1, "states before the failure are not run again"
    assert types.count("TaskStateEntered") == 2


def test_redrive_redrives_a_failed_map_run(sfn: Any, tmp_path: Path) -> None:
    """A distributed Map's failed Map Run is redriven, not replaced: same ARN, MapRunRedriven in the
    parent's history, DescribeMapRun's redriveCount and redriveDate, and only its failed items run again."""
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "dir.$": "$.dir"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": {
                              "Type": "Task", "Resource": lambda_arn("picky"), "End": True}}},
        "End": True}}}
    arn = create(sfn, "redrive-map-run", definition)
    for item in (1, 2):
        (tmp_path / f"ok-{item}").touch()
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        {"items": [1, 2, 3], "dir": str(tmp_path)}))["executionArn"]
    assert wait_done(sfn, execution)["status"] == "FAILED"
    (map_run,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    failed = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])
    assert failed["status"] == "FAILED" and failed["redriveCount"] == 0 and "redriveDate" not in failed
    assert failed["itemCounts"]["succeeded"] == 2 and failed["itemCounts"]["failed"] == 1

    (tmp_path / "ok-3").touch()
    redrive_date = sfn.redrive_execution(executionArn=execution)["redriveDate"]
    done = wait_done(sfn, execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == [10, 20, 30]
    assert (tmp_path / "calls.log").read_text().split() == ["1", "2", "3", "3"]

    listed = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert [m["mapRunArn"] for m in listed] == [map_run["mapRunArn"]], "no second Map Run"
    assert listed[0]["stopDate"] > map_run["stopDate"]
    described = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1
    assert described["itemCounts"]["succeeded"] == 3
    assert described["itemCounts"]["failed"] == described["itemCounts"]["aborted"] == 0
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    types = [e["type"] for e in events]
    assert types[types.index("ExecutionRedriven"):] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    redriven = events[types.index("MapRunRedriven")]
    assert redriven["mapRunRedrivenEventDetails"] == {"mapRunArn": map_run["mapRunArn"], "redriveCount": 1}
    # The Map Run was redriven when the redriven Map state reached it, at or after the execution's redrive.
    assert described["redriveDate"] == redriven["timestamp"] >= redrive_date
