"""How the pure core records a stop (StopExecution), an execution timeout and a deleted state machine in history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stateway.asl import interpreter
from stateway.asl.events import (
    CancelTask,
    ExecutionInfo,
    StateMachineDeleted,
    StopRequested,
    TaskStarted,
    TimerFired,
)
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from tests.conformance.corpus import DEFAULT_CORPUS_DIR

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FN = "arn:aws:lambda:us-east-1:1:function:f"
WAIT = {"StartAt": "State_1", "States": {
    "State_1": {"Type": "Wait", "Seconds": 60, "Next": "State_2"},
    "State_2": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}}}
TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}


def start(definition: dict[str, Any]) -> interpreter.Step:
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", "{}", NOW)
    return interpreter.start(parse_machine(definition), info, ShellEnv(NOW))


def chain(*steps: interpreter.Step) -> list[tuple[int, int, str]]:
    return [(e["id"], e["previousEventId"], e["type"]) for step in steps for e in step.events]


def test_execution_aborted_chains_to_no_event_as_aws_records_it() -> None:
    first = start(WAIT)
    stopped = interpreter.advance(parse_machine(WAIT), first.snapshot, StopRequested(), ShellEnv(NOW + 5))
    assert chain(first, stopped) == [(1, 0, "ExecutionStarted"), (2, 0, "WaitStateEntered"),
                                     (3, 0, "ExecutionAborted")]
    recording = DEFAULT_CORPUS_DIR / "test_sfn_api.py_TestSnfApi_test_stop_execution__fc3fbe96.json"
    if not recording.exists():
        pytest.skip(f"the conformance corpus is not at {DEFAULT_CORPUS_DIR}")
    case = json.loads(recording.read_text())
    assert case["definition"]["States"] == WAIT["States"]
    assert chain(first, stopped) == [(e["id"], e["previousEventId"], e["type"]) for e in case["expected"]["history"]]


def test_execution_aborted_during_a_task_chains_to_no_event() -> None:
    machine = parse_machine(TASK)
    first = start(TASK)
    (task_id,) = first.snapshot.tasks
    started = interpreter.advance(machine, first.snapshot, TaskStarted(task_id), ShellEnv(NOW + 1))
    stopped = interpreter.advance(machine, started.snapshot, StopRequested("Halt", "why"), ShellEnv(NOW + 2))
    assert chain(stopped) == [(5, 0, "ExecutionAborted")]
    assert stopped.events[0]["executionAbortedEventDetails"] == {"error": "Halt", "cause": "why"}


def test_execution_timed_out_still_follows_the_latest_event() -> None:
    definition = {**WAIT, "TimeoutSeconds": 5}
    first = start(definition)
    timer_id = next(t for t, frame in first.snapshot.timers.items() if frame == "")  # the execution's own
    timed_out = interpreter.advance(parse_machine(definition), first.snapshot, TimerFired(timer_id), ShellEnv(NOW))
    assert chain(timed_out)[-1] == (3, 2, "ExecutionTimedOut")


def test_a_deleted_state_machine_fails_the_execution_in_aws_words() -> None:
    """DeleteStateMachine: the shell hands over StateMachineDeleted instead of the next transition."""
    machine = parse_machine(TASK)
    first = start(TASK)
    (task_id,) = first.snapshot.tasks
    ended = interpreter.advance(machine, first.snapshot, StateMachineDeleted(), ShellEnv(NOW + 1))
    cause = "State machine M has been deleted."
    assert chain(ended) == [(4, 3, "ExecutionFailed")]
    assert ended.events[0]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
    assert (ended.snapshot.status, ended.snapshot.error, ended.snapshot.cause) == ("FAILED", "States.Runtime", cause)
    assert CancelTask(task_id) in ended.commands and ended.snapshot.tasks == {}
