"""UpdateMapRun in the pure core: `MapRunUpdated` changes a running distributed Map's MaxConcurrency and
tolerated failures from then on (the join whose Map Run it names), through the snapshot's encoding."""

from __future__ import annotations

import json
from typing import Any

from stateway.asl import interpreter, snapshot
from stateway.asl.events import (
    Event,
    ExecutionInfo,
    MapRunEnded,
    MapRunUpdated,
    ScheduleTask,
    TaskFailed,
    TaskSucceeded,
)
from stateway.asl.parse import parse_machine
from stateway.engine.codec import event_from_json, event_to_json
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:f"


def machine(**fields: Any) -> Any:
    return parse_machine({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": FN, "End": True}}},
        "End": True, **fields}}})


class Run:
    """One execution driven event by event, its snapshot stored and read back between steps as the
    engine keeps it; the tasks it has scheduled and not been answered for, in order."""

    def __init__(self, definition: Any, items: list[int]) -> None:
        self.machine = definition
        info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x",
                             "arn:aws:states:us-east-1:1:stateMachine:M", "M", "role",
                             json.dumps({"items": items}), NOW)
        self.clock = NOW
        self.events: list[dict[str, Any]] = []
        self.commands: list[Any] = []
        self.tasks: list[ScheduleTask] = []
        self.take(interpreter.start(self.machine, info, ShellEnv(NOW)))

    def take(self, step: interpreter.Step) -> None:
        self.step = step
        self.events += step.events
        self.commands += step.commands
        self.tasks += [c for c in step.commands if isinstance(c, ScheduleTask)]

    def send(self, event: Event) -> None:
        self.clock += 1
        stored = snapshot.loads(snapshot.dumps(self.step.snapshot))
        self.take(interpreter.advance(self.machine, stored, event, ShellEnv(self.clock)))

    def answer(self, item: int, *, fail: bool = False) -> None:
        task = next(t for t in self.tasks if t.input == item)
        self.tasks.remove(task)
        self.send(TaskFailed(task.task_id, "Boom", None) if fail else TaskSucceeded(task.task_id, item * 10))

    def running(self) -> list[int]:
        return sorted(t.input for t in self.tasks)

    @property
    def map_run_arn(self) -> str:
        started = next(e for e in self.events if e["type"] == "MapRunStarted")
        return str(started["mapRunStartedEventDetails"]["mapRunArn"])

    def join(self) -> Any:
        return self.step.snapshot.frames[interpreter.ROOT].join


def updated(run: Run, **settings: Any) -> MapRunUpdated:
    """The event as the engine reads it from the inbox: through its JSON encoding."""
    event = event_from_json(event_to_json(MapRunUpdated(run.map_run_arn, **settings)))
    assert isinstance(event, MapRunUpdated)
    return event


def test_a_larger_max_concurrency_starts_more_children_at_once() -> None:
    run = Run(machine(MaxConcurrency=1), [1, 2, 3, 4, 5])
    assert run.running() == [1]
    run.send(updated(run, max_concurrency=3))
    assert run.running() == [1, 2, 3]
    assert run.join().max_concurrency == 3
    run.answer(2)
    assert run.running() == [1, 3, 4]  # one more for the one that ended: three at a time from now on
    for item in (1, 3, 4, 5):
        run.answer(item)
    assert run.step.snapshot.status == "SUCCEEDED"
    assert json.loads(run.step.snapshot.output) == [10, 20, 30, 40, 50]
    (ended,) = [c for c in run.commands if isinstance(c, MapRunEnded)]
    assert (ended.status, ended.max_concurrency) == ("SUCCEEDED", 3)


def test_no_limit_starts_every_child_left() -> None:
    run = Run(machine(MaxConcurrency=2), [1, 2, 3, 4, 5])
    run.send(updated(run, max_concurrency=0))
    assert run.running() == [1, 2, 3, 4, 5]


def test_a_smaller_max_concurrency_stops_none_and_starts_none_until_fewer_run() -> None:
    run = Run(machine(MaxConcurrency=3), [1, 2, 3, 4, 5, 6])
    run.send(updated(run, max_concurrency=1))
    assert run.running() == [1, 2, 3]
    assert not [c for c in run.step.commands if not isinstance(c, ScheduleTask)]  # nothing cancelled
    run.answer(1)
    run.answer(2)
    assert run.running() == [3]
    run.answer(3)
    assert run.running() == [4]
    for item in (4, 5, 6):
        run.answer(item)
    assert run.step.snapshot.status == "SUCCEEDED"


def test_a_lowered_tolerance_fails_the_map_run_at_once_when_failures_exceed_it() -> None:
    run = Run(machine(MaxConcurrency=1, ToleratedFailureCount=5), [1, 2, 3, 4])
    run.answer(1, fail=True)
    assert run.step.snapshot.status == "RUNNING" and run.running() == [2]
    run.send(updated(run, tolerated_count=0))
    assert run.step.snapshot.status == "FAILED"
    assert run.step.snapshot.error == "States.ExceedToleratedFailureThreshold"
    types = [e["type"] for e in run.step.events]
    assert types[:3] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    (ended,) = [c for c in run.commands if isinstance(c, MapRunEnded)]
    assert (ended.status, ended.items, ended.tolerated_failure_count) == ("FAILED", (0, 1), 0)
    assert any(type(c).__name__ == "CancelTask" for c in run.step.commands)  # item 2 no longer runs


def test_a_lowered_tolerance_decides_later_failures() -> None:
    run = Run(machine(MaxConcurrency=1, ToleratedFailurePercentage=100), [1, 2, 3, 4])
    run.send(updated(run, tolerated_percentage=25.0))
    run.answer(1, fail=True)  # 1 of 4 is 25%: still tolerated
    assert run.step.snapshot.status == "RUNNING"
    run.answer(2, fail=True)  # 50%: more than the new tolerance
    assert run.step.snapshot.status == "FAILED"
    assert run.step.snapshot.error == "States.ExceedToleratedFailureThreshold"


def test_a_raised_tolerance_lets_the_map_run_succeed_with_failures() -> None:
    run = Run(machine(MaxConcurrency=1), [1, 2, 3])
    run.send(updated(run, tolerated_count=1))
    run.answer(1, fail=True)
    run.answer(2)
    run.answer(3)
    assert run.step.snapshot.status == "SUCCEEDED"
    assert json.loads(run.step.snapshot.output) == [None, 20, 30]


def test_an_update_for_another_map_run_changes_nothing() -> None:
    run = Run(machine(MaxConcurrency=1), [1, 2, 3])
    run.send(MapRunUpdated(run.map_run_arn + "0", max_concurrency=3, tolerated_count=2))
    assert run.running() == [1]
    assert (run.join().max_concurrency, run.join().tolerated_count) == (1, None)
    assert run.step.events == [] and run.step.commands == []
