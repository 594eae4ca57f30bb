"""Express state machines over the API: StartSyncExecution answers in the same request."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import test_api_core as core
from test_api_core import CALLBACK, PASS, ROLE, create, error_of, history_in_pages, lambda_arn, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures

FLOW = {
    "StartAt": "Double",
    "States": {
        "Double": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "double", "Payload.$": "$"}, "OutputPath": "$.Payload",
                   "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.value", "NumericGreaterThan": 10, "Next": "Big"}],
                  "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "the value is too small"},
    },
}


def test_start_sync_execution_succeeds_and_fails(sfn: Any) -> None:
    arn = create(sfn, "express-flow", FLOW, type="EXPRESS")
    assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    started = time.monotonic()
    result = sfn.start_sync_execution(stateMachineArn=arn, name="big-one", input=json.dumps({"value": 8}))
    assert time.monotonic() - started >= 1.0  # the Wait ran on the real clock
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == "big"
    assert result["executionArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:express:express-flow:big-one:")
    assert result["stateMachineArn"] == arn and result["name"] == "big-one"
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 1000
    failed = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"value": 1}))
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "TooSmall", "the value is too small")
    assert "output" not in failed
    code, _, _ = error_of(sfn.start_sync_execution, stateMachineArn=arn, input="[1,")
    assert code == "InvalidExecutionInput"


def test_an_express_stop_date_is_its_closing_events_timestamp(sfn: Any) -> None:
    # A thousand Pass iterations take the core several milliseconds after the last event's clock reading.
    arn = create(sfn, "express-wide", {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(list(range(1000))))
    closing = history_in_pages(sfn, result["executionArn"], 1000)[-1]
    assert closing["type"] == "ExecutionSucceeded" and result["stopDate"] == closing["timestamp"]


def test_express_async_start_and_bounded_log(sfn: Any) -> None:
    arn = create(sfn, "express-async", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": True}}}, type="EXPRESS")
    started = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')
    assert ":express:express-async:" in started["executionArn"]
    done = wait_done(sfn, started["executionArn"])
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"a": 1})
    types = [e["type"] for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    code, _, _ = error_of(sfn.list_executions, stateMachineArn=arn)
    assert code == "StateMachineTypeNotSupported"


def test_express_history_pages_reverse_and_without_data(sfn: Any) -> None:
    arn = create(sfn, "express-history", FLOW, type="EXPRESS")
    execution = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"value": 8}))["executionArn"]
    full = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["id"] for e in full] == list(range(1, len(full) + 1)) and len(full) > 4
    assert history_in_pages(sfn, execution, 3) == full
    reverse = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=2)
    assert [e["id"] for e in reverse["events"]] == [len(full), len(full) - 1]
    rest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, nextToken=reverse["nextToken"])
    assert [e["id"] for e in rest["events"]] == list(range(len(full) - 2, 0, -1))
    bare = sfn.get_execution_history(executionArn=execution, includeExecutionData=False)["events"]
    assert "input" in full[0]["executionStartedEventDetails"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert "output" not in bare[-1]["executionSucceededEventDetails"]


def test_express_rejects_callbacks_sync_and_activities(sfn: Any) -> None:
    code, message, _ = error_of(sfn.create_state_machine, name="express-callback", roleArn=ROLE,
                                definition=json.dumps(CALLBACK), type="EXPRESS")
    assert code == "InvalidDefinition"
    assert "Express state machine does not support '.waitForTaskToken' service integration" in message
    activity = sfn.create_activity(name="express-activity")["activityArn"]
    code, message, _ = error_of(sfn.create_state_machine, name="express-activity", roleArn=ROLE, type="EXPRESS",
                                definition=json.dumps({"StartAt": "A", "States": {
                                    "A": {"Type": "Task", "Resource": activity, "End": True}}}))
    assert code == "InvalidDefinition" and "Express state machine does not support Activity ARN" in message
    sync = {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                                             "Parameters": {"StateMachineArn": "x"}, "End": True}}}
    code, _, _ = error_of(sfn.create_state_machine, name="express-sync", roleArn=ROLE, type="EXPRESS",
                          definition=json.dumps(sync))
    assert code == "InvalidDefinition"


def test_start_sync_execution_needs_express(sfn: Any) -> None:
    arn = create(sfn, "standard-not-sync", PASS)
    code, message, _ = error_of(sfn.start_sync_execution, stateMachineArn=arn)
    assert (code, message) == ("StateMachineTypeNotSupported",
                               "This operation is not supported by this type of state machine")
    code, _, _ = error_of(sfn.start_sync_execution, stateMachineArn=arn + "-missing")
    assert code == "StateMachineDoesNotExist"


def test_express_function_errors_are_caught(sfn: Any) -> None:
    arn = create(sfn, "express-catch", {"StartAt": "B", "States": {
        "B": {"Type": "Task", "Resource": lambda_arn("boom"), "Next": "Ok",
              "Catch": [{"ErrorEquals": ["OrderRejected"], "Next": "Handled"}]},
        "Ok": {"Type": "Succeed"}, "Handled": {"Type": "Pass", "Result": "handled", "End": True}}}, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, input='{"sku": "Z"}')
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", "handled")
