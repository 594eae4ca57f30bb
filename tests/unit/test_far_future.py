"""Times too far away to store — a Wait of 10^18 seconds, a back-off grown without bound — are clamped
to the latest instant a timestamp holds, or refused as AWS refuses them; they never escape the core."""

from __future__ import annotations

from typing import Any

import pytest

from stateway.asl import interpreter
from stateway.asl.events import ExecutionInfo, StartTimer, TaskFailed
from stateway.asl.parse import parse_machine
from stateway.asl.retry import retry_delay_ms
from stateway.asl.timestamps import LATEST_MS, clamp_ms
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def start(definition: dict[str, Any], input_text: str) -> interpreter.Step:
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", input_text, NOW)
    return interpreter.start(parse_machine(definition), info, ShellEnv(NOW))


WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}


@pytest.mark.parametrize("seconds", [10**12, 10**18, 2**63 - 1])
def test_a_wait_beyond_the_latest_timestamp_is_due_at_it(seconds: int) -> None:
    step = start(WAIT, f'{{"s": {seconds}}}')
    (timer,) = [c for c in step.commands if isinstance(c, StartTimer)]
    assert timer.due_ms == min(NOW + seconds * 1000, LATEST_MS) and timer.due_ms <= LATEST_MS
    assert step.snapshot.status == "RUNNING"


def test_seconds_beyond_a_long_fail_the_execution_as_aws_words_it() -> None:
    step = start(WAIT, '{"s": 100000000000000000000000000000}')
    assert step.snapshot.status == "FAILED" and step.snapshot.error == "States.Runtime"
    assert "The SecondsPath parameter cannot be parsed as a long value: $.s ==" in (step.snapshot.cause or "")


def test_a_back_off_grown_without_bound_is_clamped_not_an_overflow() -> None:
    assert retry_delay_ms(99999999, 1000.0, 99999998, None, "NONE", 0.5) == LATEST_MS
    assert retry_delay_ms(1, 2.0, 3, None, "NONE", 0.5) == 8000
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 99999999, "BackoffRate": 1000,
                   "MaxAttempts": 99999999}]}}}
    step = start(definition, "{}")
    (task_id,) = step.snapshot.tasks
    failed = interpreter.advance(parse_machine(definition), step.snapshot, TaskFailed(task_id, "Boom", "no"),
                                 ShellEnv(NOW))
    (timer,) = [c for c in failed.commands if isinstance(c, StartTimer)]
    assert timer.due_ms == NOW + 99999999 * 1000  # the first retry waits IntervalSeconds; later ones clamp
    assert clamp_ms(NOW + retry_delay_ms(99999999, 1000.0, 50, None, "NONE", 0.5)) == LATEST_MS


@pytest.mark.parametrize("path_value", ["100000000", "100000000000000000000000000000"])
def test_a_task_timeout_beyond_the_maximum_is_an_invalid_value(path_value: str) -> None:
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "TimeoutSecondsPath": "$.t",
        "End": True}}}
    step = start(definition, f'{{"t": {path_value}}}')
    assert step.snapshot.status == "FAILED" and step.snapshot.error == "States.Runtime"
    assert "The TimeoutSecondsPath parameter references an invalid value: $.t ==" in (step.snapshot.cause or "")
