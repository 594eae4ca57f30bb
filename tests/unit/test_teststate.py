"""The pure TestState core: one state through the interpreter's code, with mocks and inspection data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stateway.asl.events import ExecutionInfo
from stateway.asl.teststate import (
    DEBUG,
    Mock,
    StateConfiguration,
    TestStateError,
    TestStateRequest,
    run_test_state,
)
from stateway.testing.fixed import FixedEnv

CLOCK = FixedEnv(now_ms=1_700_000_000_000)


EXECUTION = ExecutionInfo("arn:aws:states:us-east-1:123456789012:express:M:e", "e",
                          "arn:aws:states:us-east-1:123456789012:stateMachine:M", "M", "", "{}", CLOCK.now_ms)


def run(definition: dict[str, Any], data: Any, **kwargs: Any) -> dict[str, Any]:
    request = TestStateRequest(definition=definition, input=data, inspection_level=DEBUG, **kwargs)
    return run_test_state(request, EXECUTION, CLOCK).response(DEBUG)


def test_task_result_selector_and_result_path() -> None:
    definition = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
                  "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.r", "End": True}
    answer = run(definition, {"a": 1}, mock=Mock(result=json.dumps({"Payload": 5})))
    data = {k: json.loads(v) for k, v in answer["inspectionData"].items()}
    assert data == {"input": {"a": 1}, "afterInputPath": {"a": 1}, "afterParameters": {"FunctionName": "f"},
                    "result": {"Payload": 5}, "afterResultSelector": {"p": 5},
                    "afterResultPath": {"a": 1, "r": {"p": 5}}}
    assert json.loads(answer["output"]) == {"a": 1, "r": {"p": 5}}


def test_exhausted_retrier_fails() -> None:
    definition = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
                  "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}], "End": True}
    answer = run(definition, {}, mock=Mock(error="E", cause="c", has_error_output=True),
                 config=StateConfiguration(retrier_retry_count=1))
    assert answer["status"] == "FAILED"
    assert answer["inspectionData"]["errorDetails"] == {"retryIndex": 0}


def test_wait_state_does_not_wait() -> None:
    answer = run({"Type": "Wait", "Seconds": 3600, "Next": "N"}, {"x": 1})
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "N")


def test_map_mock_must_be_an_array() -> None:
    definition = {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                  "End": True}
    with pytest.raises(TestStateError) as raised:
        run(definition, [1], mock=Mock(result="{}"))
    assert (raised.value.code, raised.value.message) == ("ValidationException", "Mocked result must be an array.")
