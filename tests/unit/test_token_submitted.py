"""How the pure core records what a token task's (`.waitForTaskToken`) service answered as it was submitted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stateway.asl import interpreter, jsontext
from stateway.asl.causes import limit_cause
from stateway.asl.events import CancelTask, ExecutionInfo, TaskStarted, TaskSubmitted, TaskSucceeded
from stateway.asl.interpreter import TOO_DEEP_CAUSE
from stateway.asl.parse import parse_machine
from stateway.engine.env import DEFAULT_PAYLOAD_LIMIT_BYTES, ShellEnv

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TOKEN_TASK = {"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
    "Caught": {"Type": "Succeed"}}}


def nested(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth)


def submitted(output: Any, limit: int = DEFAULT_PAYLOAD_LIMIT_BYTES,
              definition: dict[str, Any] = TOKEN_TASK) -> tuple[interpreter.Step, str]:
    machine = parse_machine(definition)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", "{}", NOW)
    first = interpreter.start(machine, info, ShellEnv(NOW, limit))
    (task_id,) = first.snapshot.tasks
    started = interpreter.advance(machine, first.snapshot, TaskStarted(task_id), ShellEnv(NOW + 1, limit))
    return interpreter.advance(machine, started.snapshot, TaskSubmitted(task_id, output), ShellEnv(NOW + 2, limit)), \
        task_id


def test_a_submission_within_the_depth_limit_is_recorded_and_the_task_waits_for_its_token() -> None:
    step, task_id = submitted({"MessageId": nested(jsontext.MAX_DEPTH - 1)})
    (event,) = step.events
    assert event["type"] == "TaskSubmitted"
    assert jsontext.loads(event["taskSubmittedEventDetails"]["output"]) == {"MessageId": nested(jsontext.MAX_DEPTH - 1)}
    assert step.snapshot.status == "RUNNING" and task_id in step.snapshot.tasks and step.commands == []


def test_a_submission_nested_too_deep_fails_the_state_with_states_runtime() -> None:
    step, task_id = submitted({"MessageId": nested(jsontext.MAX_DEPTH)})
    assert [e["type"] for e in step.events] == ["TaskFailed", "ExecutionFailed"]  # States.ALL does not catch it
    details = step.events[0]["taskFailedEventDetails"]
    assert details["error"] == "States.Runtime"
    assert details["cause"] == f"An error occurred while executing the state 'Ask' (entered at the event id #2). " \
                               f"{TOO_DEEP_CAUSE}"
    assert step.snapshot.status == "FAILED" and step.snapshot.error == "States.Runtime"
    assert CancelTask(task_id) in step.commands and step.snapshot.tasks == {}  # its token takes no answer
    late = interpreter.advance(parse_machine(TOKEN_TASK), step.snapshot, TaskSucceeded(task_id, {}), ShellEnv(NOW + 3))
    assert late.events == [] and late.snapshot.status == "FAILED"


def _sized(size: int) -> dict[str, str]:
    """A submission whose JSON text is `size` bytes of UTF-8 (`é` takes two)."""
    overhead = len('{"MessageId":""}')
    return {"MessageId": "é" * ((size - overhead) // 2) + "a" * ((size - overhead) % 2)}


def test_a_submission_at_the_payload_limit_is_recorded() -> None:
    output = _sized(DEFAULT_PAYLOAD_LIMIT_BYTES)
    assert len(jsontext.dumps(output).encode()) == DEFAULT_PAYLOAD_LIMIT_BYTES
    step, task_id = submitted(output)
    assert [e["type"] for e in step.events] == ["TaskSubmitted"]
    assert step.snapshot.status == "RUNNING" and task_id in step.snapshot.tasks and step.commands == []


@pytest.mark.parametrize("limit", [DEFAULT_PAYLOAD_LIMIT_BYTES, 1_000])
def test_a_submission_over_the_payload_limit_fails_the_task_with_data_limit_exceeded(limit: int) -> None:
    step, task_id = submitted(_sized(limit + 1), limit)
    # Caught by States.ALL, as an oversized task result is on AWS.
    assert [e["type"] for e in step.events] == ["TaskFailed", "TaskStateExited", "SucceedStateEntered",
                                                "SucceedStateExited", "ExecutionSucceeded"]
    details = step.events[0]["taskFailedEventDetails"]
    assert details == {"error": "States.DataLimitExceeded", "cause": limit_cause("sqs"),
                       "resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"}
    assert CancelTask(task_id) in step.commands and step.snapshot.tasks == {}  # its token takes no answer
    late = interpreter.advance(parse_machine(TOKEN_TASK), step.snapshot, TaskSucceeded(task_id, {}), ShellEnv(NOW + 3))
    assert late.events == [] and step.snapshot.status == "SUCCEEDED"


def test_an_oversized_submission_is_retried_as_an_oversized_result_is() -> None:
    definition = {"StartAt": "Ask", "States": {"Ask": {
        **{k: v for k, v in TOKEN_TASK["States"]["Ask"].items() if k != "Catch"},
        "Retry": [{"ErrorEquals": ["States.DataLimitExceeded"], "MaxAttempts": 1}]}}}
    step, task_id = submitted(_sized(1_001), 1_000, definition)
    assert [e["type"] for e in step.events] == ["TaskFailed"]
    assert CancelTask(task_id) in step.commands and step.snapshot.status == "RUNNING"
    assert step.snapshot.tasks == {} and step.snapshot.timers  # waiting for its retry
