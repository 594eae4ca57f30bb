"""A Standard execution lasts a year at most: beyond, it times out as its TimeoutSeconds would."""

from __future__ import annotations

from typing import Any

import pytest

from stateway.asl import interpreter
from stateway.asl.events import ExecutionInfo, RedriveRequested, StartTimer, TaskFailed
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from stateway.engine.runtime import MAX_DURATION_SECONDS
from stateway.testing.local import LocalRunner

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
YEAR_MS = 365 * 24 * 3600 * 1000
FN = "arn:aws:lambda:us-east-1:1:function:f"


def wait(seconds: int, **top: Any) -> dict[str, Any]:
    return {**top, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}}


def execution_timers(step: interpreter.Step) -> list[int]:
    return [c.due_ms for c in step.commands if isinstance(c, StartTimer) and c.purpose == "execution_timeout"]


def start(definition: dict[str, Any]) -> interpreter.Step:
    machine = parse_machine(definition).lasting_at_most(MAX_DURATION_SECONDS)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", "{}", NOW)
    return interpreter.start(machine, info, ShellEnv(NOW))


def test_the_maximum_is_a_year_of_365_days() -> None:
    assert MAX_DURATION_SECONDS * 1000 == YEAR_MS


@pytest.mark.parametrize(("top", "due"), [
    ({}, NOW + YEAR_MS),  # no TimeoutSeconds: the year
    ({"TimeoutSeconds": 0}, NOW + YEAR_MS),  # 0 sets no timeout of its own
    ({"TimeoutSeconds": 99999999}, NOW + YEAR_MS),  # accepted by validation, cut to the year
    ({"TimeoutSeconds": MAX_DURATION_SECONDS}, NOW + YEAR_MS),
    ({"TimeoutSeconds": 3600}, NOW + 3600 * 1000),  # a shorter one of its own still counts
])
def test_the_execution_timer_is_the_shorter_of_timeout_seconds_and_a_year(top: dict[str, Any], due: int) -> None:
    assert execution_timers(start(wait(10, **top))) == [due]


def test_an_execution_waiting_two_years_times_out_after_one() -> None:
    result = LocalRunner().run(wait(2 * MAX_DURATION_SECONDS))  # the runner's virtual clock moves, nothing sleeps
    assert result.status == "TIMED_OUT"
    assert [e["type"] for e in result.events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    started, timed_out = result.events[0]["timestamp"], result.events[-1]["timestamp"]
    assert (timed_out - started).total_seconds() == MAX_DURATION_SECONDS
    assert result.error is None and result.cause is None  # as a TimeoutSeconds timeout records it


def test_an_execution_within_the_year_is_not_cut() -> None:
    result = LocalRunner().run(wait(MAX_DURATION_SECONDS - 1))
    assert result.status == "SUCCEEDED"


def test_a_redrive_counts_the_timeout_again_from_the_redrive() -> None:
    """AWS: "When you redrive an execution, the state machine level timeout, if defined, is reset to 0"."""
    definition = {"TimeoutSeconds": 60, "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}
    machine = parse_machine(definition).lasting_at_most(MAX_DURATION_SECONDS)
    first = start(definition)
    (task_id,) = first.snapshot.tasks
    failed = interpreter.advance(machine, first.snapshot, TaskFailed(task_id, "Boom", None), ShellEnv(NOW + 1000))
    assert failed.snapshot.status == "FAILED" and failed.snapshot.timers == {}
    later = NOW + 3_600_000
    redriven = interpreter.advance(machine, failed.snapshot, RedriveRequested(), ShellEnv(later))
    assert redriven.snapshot.status == "RUNNING"
    assert execution_timers(redriven) == [later + 60_000]


def test_a_redrive_happens_at_its_redrive_date_whenever_the_step_runs() -> None:
    """RedriveExecution answers the redriveDate it stores; the step that applies it comes later, and its
    ExecutionRedriven and the new timeout go by that date, not by the step's clock."""
    definition = {"TimeoutSeconds": 60, "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}
    machine = parse_machine(definition).lasting_at_most(MAX_DURATION_SECONDS)
    first = start(definition)
    (task_id,) = first.snapshot.tasks
    failed = interpreter.advance(machine, first.snapshot, TaskFailed(task_id, "Boom", None), ShellEnv(NOW + 1000))
    requested, applied = NOW + 5000, NOW + 5250
    redriven = interpreter.advance(machine, failed.snapshot, RedriveRequested(requested), ShellEnv(applied))
    stamps = {e["type"]: e["timestamp"] for e in redriven.events}
    assert stamps["ExecutionRedriven"] == requested and stamps["TaskStateEntered"] == applied
    assert execution_timers(redriven) == [requested + 60_000]
