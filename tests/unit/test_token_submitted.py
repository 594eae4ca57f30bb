"""How the pure core records what a token task's (`.waitForTaskToken`) service answered as it was submitted."""

from __future__ import annotations

import json
from typing import Any

from stateway.asl import interpreter, jsontext
from stateway.asl.events import CancelTask, ExecutionInfo, TaskStarted, TaskSubmitted, TaskSucceeded
from stateway.asl.interpreter import TOO_DEEP_CAUSE
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TOKEN_TASK = {"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
    "Caught": {"Type": "Succeed"}}}


def nested(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth)


def submitted(output: Any) -> tuple[interpreter.Step, str]:
    machine = parse_machine(TOKEN_TASK)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", "{}", NOW)
    first = interpreter.start(machine, info, ShellEnv(NOW))
    (task_id,) = first.snapshot.tasks
    started = interpreter.advance(machine, first.snapshot, TaskStarted(task_id), ShellEnv(NOW + 1))
    return interpreter.advance(machine, started.snapshot, TaskSubmitted(task_id, output), ShellEnv(NOW + 2)), task_id


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
