"""AWS's hard quota of 25,000 events in a Standard execution's history, in the pure core: event 25,000
may only end the execution; anything else makes it fail with `States.Runtime`."""

from __future__ import annotations

from typing import Any

from stateway.asl import interpreter, snapshot
from stateway.asl.events import (
    CancelTask,
    ExecutionInfo,
    Resumed,
    ScheduleTask,
    StartTimer,
    TaskSucceeded,
    TimerFired,
)
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FN = "arn:aws:lambda:us-east-1:1:function:f"
STANDARD = "arn:aws:states:us-east-1:1:execution:M:x"
EXPRESS = "arn:aws:states:us-east-1:1:express:M:x:y"


def counting_loop(rounds: int) -> dict[str, Any]:
    """Inc and Check `rounds` times (4 events each), then Succeed: 1 + 4 * rounds + 2 + 1 events."""
    return {"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": rounds, "Next": "Inc"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}


def start(definition: dict[str, Any], arn: str = STANDARD, input_text: str = '{"n": 0}') -> interpreter.Step:
    info = ExecutionInfo(arn, "x", "arn:aws:states:us-east-1:1:stateMachine:M", "M", "role", input_text, NOW)
    return interpreter.start(parse_machine(definition), info, ShellEnv(NOW))


def test_an_execution_whose_event_25000_ends_it_succeeds() -> None:
    step = start(counting_loop(6249))
    assert step.snapshot.status == "SUCCEEDED"
    assert len(step.events) == interpreter.MAX_HISTORY_EVENTS
    assert step.events[-1]["type"] == "ExecutionSucceeded"


def test_one_more_round_fails_at_event_25000_with_states_runtime() -> None:
    step = start(counting_loop(6250))
    assert step.snapshot.status == "FAILED"
    assert (step.snapshot.error, step.snapshot.cause) == (
        "States.Runtime", "The execution reached the maximum number of history events (25000).")
    assert [e["id"] for e in step.events] == list(range(1, 25001))
    last, before = step.events[-1], step.events[-2]
    assert (before["type"], last["type"], last["previousEventId"]) == ("PassStateExited", "ExecutionFailed", 24999)
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": interpreter.HISTORY_LIMIT_CAUSE}


def test_a_loop_that_never_waits_ends_instead_of_running_forever() -> None:
    spin = {"StartAt": "Spin", "States": {
        "Spin": {"Type": "Pass", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "Spin"}],
                 "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    step = start(spin)
    assert (step.snapshot.status, len(step.events)) == ("FAILED", 25000)


def test_what_the_cut_step_scheduled_never_reaches_the_world_and_earlier_tasks_are_cancelled() -> None:
    """When Work succeeds, one step enters Fan: its first branch schedules Later, its second spins to the
    limit. Later is never scheduled (its event stays in the history); Call, from an earlier step, is
    cancelled."""
    spin = {"StartAt": "Spin", "States": {
        "Spin": {"Type": "Pass", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "Spin"}],
                 "Default": "Out"},
        "Out": {"Type": "Succeed"}}}
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": FN, "End": True}}},
        {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": FN, "Next": "Fan"},
            "Fan": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Later", "States": {"Later": {"Type": "Task", "Resource": FN, "End": True}}},
                spin]}}}]}}}
    machine = parse_machine(definition)
    first = start(definition)
    call, work = (c for c in first.commands if isinstance(c, ScheduleTask))
    assert (call.state_name, work.state_name) == ("Call", "Work")
    step = interpreter.advance(machine, first.snapshot, TaskSucceeded(work.task_id, {"n": 0}), ShellEnv(NOW + 1))
    assert step.snapshot.status == "FAILED" and step.events[-1]["id"] == 25000
    assert any(e["type"] == "LambdaFunctionScheduled" for e in step.events)  # Later's, in the history
    assert not any(isinstance(c, ScheduleTask | StartTimer) for c in step.commands)
    assert [c.task_id for c in step.commands if isinstance(c, CancelTask)] == [call.task_id]
    assert not step.snapshot.tasks and not step.snapshot.timers


def test_express_executions_have_no_history_quota_and_pause_after_a_budget_of_events() -> None:
    machine = parse_machine(counting_loop(6300))
    step = start(counting_loop(6300), arn=EXPRESS)
    events = list(step.events)
    while step.paused:
        assert len(step.events) == interpreter.STEP_EVENT_BUDGET and step.snapshot.status == "RUNNING"
        step = interpreter.advance(machine, step.snapshot, Resumed(), ShellEnv(NOW))
        events += step.events
    assert step.snapshot.status == "SUCCEEDED"
    assert [e["id"] for e in events] == list(range(1, 1 + 4 * 6300 + 4))


def test_a_paused_execution_times_out_when_its_timer_comes_first() -> None:
    spin = {"TimeoutSeconds": 5, "StartAt": "Spin", "States": {
        "Spin": {"Type": "Pass", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "Spin"}],
                 "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    step = start(spin, arn=EXPRESS)
    assert step.paused
    (timer,) = (c for c in step.commands if isinstance(c, StartTimer))
    timed_out = interpreter.advance(parse_machine(spin), step.snapshot, TimerFired(timer.timer_id), ShellEnv(NOW))
    assert (timed_out.snapshot.status, timed_out.paused) == ("TIMED_OUT", False)
    assert timed_out.events[-1]["id"] == interpreter.STEP_EVENT_BUDGET + 1


def test_a_standard_step_never_pauses() -> None:
    assert not start(counting_loop(6249)).paused


def test_a_paused_snapshot_keeps_what_is_left_to_run_when_stored() -> None:
    step = start(counting_loop(6300), arn=EXPRESS)
    again = snapshot.loads(snapshot.dumps(step.snapshot))
    assert again.ready == step.snapshot.ready == ["root"]
    assert snapshot.loads(snapshot.dumps(start(counting_loop(1)).snapshot)).ready == []


def test_an_execution_already_past_the_quota_fails_at_its_next_event() -> None:
    """A history longer than 25,000 events (recorded before the quota was kept) ends at its next step."""
    definition = {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": FN, "Next": "P"},
                                             "P": {"Type": "Pass", "End": True}}}
    first = start(definition)
    (work,) = (c for c in first.commands if isinstance(c, ScheduleTask))
    first.snapshot.next_event_id = 25_010
    step = interpreter.advance(parse_machine(definition), first.snapshot, TaskSucceeded(work.task_id, {}),
                               ShellEnv(NOW))
    assert [(e["id"], e["type"]) for e in step.events] == [(25_010, "ExecutionFailed")]
    assert step.snapshot.cause == interpreter.HISTORY_LIMIT_CAUSE
