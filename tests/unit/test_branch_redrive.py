"""A redrive continues a failed Parallel branch or inline Map iteration from the state where it stopped, as
RedriveExecution continues an execution: the states it completed before do not run again, and a branch or
iteration cut short by a sibling's failure (or by a stop) goes on from where it was cut. Nested Maps and
Parallels again run only what did not succeed."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from stateway.asl import interpreter, snapshot
from stateway.asl.events import (
    CancelTask,
    ExecutionInfo,
    MapRunEnded,
    RedriveRequested,
    ScheduleTask,
    StopRequested,
    TaskFailed,
    TaskSucceeded,
)
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:"


def task(name: str, next_state: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": FN + name, **({"Next": next_state} if next_state else {"End": True}), **fields}


# Two states: `first`, then `second` (which the tests fail for some inputs).
TWO_STEPS = {"StartAt": "First", "States": {"First": task("first", "Second"), "Second": task("second")}}


def two_step_map(**fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": TWO_STEPS, "End": True, **fields}


class Execution:
    """One execution driven by hand: its last step, its tasks not answered yet, every task call and event."""

    def __init__(self, definition: dict[str, Any], execution_input: Any, *, express: bool = False) -> None:
        self.machine = parse_machine(definition)
        self.clock = NOW
        kind = "express" if express else "execution"
        info = ExecutionInfo(f"arn:aws:states:us-east-1:1:{kind}:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                             "M", "role", json.dumps(execution_input), NOW)
        self.step = interpreter.start(self.machine, info, ShellEnv(NOW))
        self.calls: list[tuple[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.pending: list[ScheduleTask] = []
        self.cancelled: set[str] = set()
        self._took(self.step)

    def _took(self, step: interpreter.Step) -> None:
        self.step = step
        self.events += step.events
        self.cancelled |= {c.task_id for c in step.commands if isinstance(c, CancelTask)}
        for command in step.commands:
            if isinstance(command, ScheduleTask):
                self.calls.append((command.resource.rsplit(":", 1)[1], command.input))
                self.pending.append(command)
        self.pending = [t for t in self.pending if t.task_id not in self.cancelled]

    def advance(self, event: Any) -> None:
        self.clock += 1
        self._took(interpreter.advance(self.machine, self.step.snapshot, event, ShellEnv(self.clock)))

    def answer(self, function: str, value: Any, *, fail: bool = False) -> None:
        """Answer the pending call of `function` with input `value`."""
        found = next(t for t in self.pending if t.resource == FN + function and t.input == value)
        self.pending.remove(found)
        self.advance(TaskFailed(found.task_id, "Boom", None) if fail else TaskSucceeded(found.task_id, value))

    def settle(self, failing: Collection[tuple[str, Any]] = ()) -> None:
        """Answer every pending call in order, failing those named in `failing`, until none is left."""
        while self.pending and self.step.snapshot.status == "RUNNING":
            first = self.pending[0]
            self.answer(first.resource.rsplit(":", 1)[1], first.input,
                        fail=any(call == (first.resource.rsplit(":", 1)[1], first.input) for call in failing))

    def redrive(self) -> None:
        """RedriveExecution, through the store's encoding, as the engine keeps the snapshot in between."""
        self.clock += 1000
        stored = snapshot.loads(snapshot.dumps(self.step.snapshot))
        self.calls.clear()
        self.pending.clear()
        self.events.clear()
        self._took(interpreter.advance(self.machine, stored, RedriveRequested(self.clock), ShellEnv(self.clock)))

    @property
    def status(self) -> str:
        return self.step.snapshot.status

    def frames(self) -> list[str]:
        return list(self.step.snapshot.frames)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


PARALLEL = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "Solo", "States": {"Solo": task("solo")}}, TWO_STEPS]}}}


def test_a_failed_branch_continues_from_the_state_it_failed_in() -> None:
    run = Execution(PARALLEL, 5)
    run.settle({("second", 5)})
    assert run.status == "FAILED"
    assert sorted(run.calls) == [("first", 5), ("second", 5), ("solo", 5)]
    assert len(run.frames()) == 2, "the root, and the failed branch kept where it failed"

    run.redrive()
    run.settle()
    assert run.status == "SUCCEEDED" and json.loads(run.step.snapshot.output) == [5, 5]
    assert run.calls == [("second", 5)], "neither the branch that succeeded nor the failed one's first state ran again"
    assert run.frames() == [interpreter.ROOT]
    # The history as a redriven Parallel records a new branch: its state entered after ParallelStateStarted.
    kinds = [e["type"] for e in run.events]
    assert kinds[:5] == ["ExecutionRedriven", "ParallelStateEntered", "ParallelStateStarted", "TaskStateEntered",
                         "LambdaFunctionScheduled"], kinds
    (started,) = of_type(run.events, "ParallelStateStarted")
    (entered,) = of_type(run.events, "TaskStateEntered")
    assert entered["stateEnteredEventDetails"]["name"] == "Second"
    assert entered["previousEventId"] == started["id"]


def test_an_inline_map_in_a_failed_branch_runs_only_its_iterations_that_did_not_succeed() -> None:
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Solo", "States": {"Solo": task("solo")}},
        {"StartAt": "Each", "States": {"Each": two_step_map()}}]}}}
    run = Execution(definition, {"items": [1, 2, 3]})
    run.settle({("second", 2)})
    assert run.status == "FAILED"

    run.redrive()
    run.settle()
    assert run.status == "SUCCEEDED"
    assert json.loads(run.step.snapshot.output)[1] == [1, 2, 3]
    # Item 1 succeeded before; item 2 failed in its second state; item 3 was cut short there or before.
    assert ("first", 1) not in run.calls and ("second", 1) not in run.calls and ("solo", {"items": [1, 2, 3]}) not in run.calls
    assert ("first", 2) not in run.calls and ("second", 2) in run.calls
    assert run.frames() == [interpreter.ROOT]


def test_an_iteration_cut_short_by_a_sibling_continues_from_where_it_was_cut() -> None:
    run = Execution({"StartAt": "Each", "States": {"Each": two_step_map()}}, {"items": [1, 2, 3]})
    run.answer("first", 1)
    run.answer("first", 3)
    run.answer("second", 1, fail=True)
    assert run.status == "FAILED"
    # Iteration 2 was cut in its first state, iteration 3 in its second: their tasks were cancelled.
    assert not run.pending
    assert len(run.frames()) == 4

    run.redrive()
    assert sorted(run.calls) == [("first", 2), ("second", 1), ("second", 3)]
    run.settle()
    assert run.status == "SUCCEEDED" and json.loads(run.step.snapshot.output) == [1, 2, 3]
    assert sorted(run.calls) == [("first", 2), ("second", 1), ("second", 2), ("second", 3)]
    # Each iteration run again starts in this history as a new one does: MapIterationStarted, then its state.
    assert sorted(e["mapIterationStartedEventDetails"]["index"] for e in of_type(run.events, "MapIterationStarted")) \
        == [0, 1, 2]
    by_id = {e["id"]: e for e in run.events}
    for entered in of_type(run.events, "TaskStateEntered"):
        before = by_id[entered["previousEventId"]]
        if entered["stateEnteredEventDetails"]["name"] == "Second" and before["type"] == "MapIterationStarted":
            assert before["mapIterationStartedEventDetails"]["index"] in (0, 2)


def test_a_branch_cut_short_by_a_stop_continues_from_where_it_was() -> None:
    run = Execution(PARALLEL, 5)
    run.answer("first", 5)
    run.advance(StopRequested(None, None))
    assert run.status == "ABORTED" and not run.pending

    run.redrive()
    assert sorted(run.calls) == [("second", 5), ("solo", 5)]
    run.settle()
    assert run.status == "SUCCEEDED" and run.frames() == [interpreter.ROOT]


def test_a_redriven_branch_that_fails_again_is_redriven_again_from_there() -> None:
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Solo", "States": {"Solo": task("solo")}},
        {"StartAt": "Each", "States": {"Each": two_step_map()}}]}}}
    run = Execution(definition, {"items": [1, 2]})
    run.settle({("second", 1), ("second", 2)})
    run.redrive()
    run.settle({("second", 2)})
    assert run.status == "FAILED"
    run.redrive()
    run.settle()
    assert run.status == "SUCCEEDED" and run.calls == [("second", 2)]


def test_a_retried_or_caught_parallel_keeps_no_branch() -> None:
    retried = {"StartAt": "Both", "States": {"Both": {**PARALLEL["States"]["Both"],
                                                      "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}]}}}
    run = Execution(retried, 5)
    run.answer("first", 5)
    run.answer("second", 5, fail=True)
    assert run.frames() == [interpreter.ROOT], "a retry runs every branch again from its start"
    caught = {"StartAt": "Both", "States": {
        "Both": {**PARALLEL["States"]["Both"], "End": False, "Next": "After",
                 "Catch": [{"ErrorEquals": ["Boom"], "Next": "After"}]},
        "After": task("after")}}
    run = Execution(caught, 5)
    run.settle({("second", 5)})
    assert run.step.snapshot.frames[interpreter.ROOT].state == "After"
    assert run.frames() == [interpreter.ROOT]


def test_a_map_that_succeeds_keeps_none_of_its_tolerated_failures() -> None:
    run = Execution({"StartAt": "Each", "States": {"Each": two_step_map(ToleratedFailureCount=1)}},
                    {"items": [1, 2]})
    run.settle({("second", 2)})
    assert run.status == "SUCCEEDED" and run.frames() == [interpreter.ROOT]


def test_an_express_execution_keeps_no_branch() -> None:
    run = Execution(PARALLEL, 5, express=True)
    run.settle({("second", 5)})
    assert run.status == "FAILED" and run.frames() == [interpreter.ROOT]


def test_a_map_run_in_a_branch_cut_short_is_redriven_not_started_again() -> None:
    """A distributed Map in a branch that a sibling's failure cuts short: its Map Run is aborted, and the
    redrive continues the branch at that Map, which redrives the Map Run as a top-level one is."""
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Solo", "States": {"Solo": task("solo")}},
        {"StartAt": "Before", "States": {"Before": task("first", "Each"), "Each": {
            "Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": task("second")}}}}}]}}}
    run = Execution(definition, {"items": [1, 2]})
    run.answer("first", {"items": [1, 2]})
    run.answer("second", 1)
    run.answer("solo", {"items": [1, 2]}, fail=True)
    assert run.status == "FAILED"
    ended = [c for c in run.step.commands if isinstance(c, MapRunEnded)]
    assert [(c.status, c.items) for c in ended] == [("ABORTED", (1, 0))]
    (started,) = of_type(run.events, "MapRunStarted")

    run.redrive()
    assert sorted(run.calls) == [("second", 2), ("solo", {"items": [1, 2]})]
    (redriven,) = of_type(run.events, "MapRunRedriven")
    assert redriven["mapRunRedrivenEventDetails"] == {
        "mapRunArn": started["mapRunStartedEventDetails"]["mapRunArn"], "redriveCount": 1}
    run.settle()
    assert run.status == "SUCCEEDED" and json.loads(run.step.snapshot.output)[1] == [1, 2]
