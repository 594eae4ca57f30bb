"""A task's run key (the idempotency key's part after the execution) names the same run whatever order
the execution's frames moved in — a crash recomputes rounds from answers arriving in another order — and
different runs differently: another Map iteration, another visit of a state in a loop, a retry, a retry of
the Map around it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stateway.asl import interpreter, snapshot
from stateway.asl.events import Event, ExecutionInfo, ScheduleTask, TaskFailed, TaskSucceeded, TimerFired
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from stateway.workers.function_task import idempotency_key

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:f"
EXECUTION = "arn:aws:states:us-east-1:1:execution:M:x"


def task(next_state: str | None = None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": FN, **fields}
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


def map_state(processor_mode: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": True,
            "ItemProcessor": {"ProcessorConfig": {"Mode": processor_mode, "ExecutionType": "STANDARD"},
                              "StartAt": "Work", "States": {"Work": task("Again"), "Again": task()}}, **fields}


class Run:
    """One execution driven event by event through stored snapshots, as the engine drives it."""

    def __init__(self, definition: dict[str, Any], input: Any) -> None:
        self.machine = parse_machine(definition)
        info = ExecutionInfo(EXECUTION, "x", "arn:aws:states:us-east-1:1:stateMachine:M", "M", "role",
                             json.dumps(input), NOW)
        self.clock = NOW
        self.open: list[ScheduleTask] = []
        self.keys: dict[str, str] = {}  # frame id + state -> run key, of every task scheduled
        self.timers: list[str] = []
        self.take(interpreter.start(self.machine, info, ShellEnv(NOW)))

    def take(self, step: interpreter.Step) -> None:
        self.step = step
        for command in step.commands:
            if isinstance(command, ScheduleTask):
                self.open.append(command)
            elif hasattr(command, "timer_id") and hasattr(command, "due_ms"):
                self.timers.append(command.timer_id)

    def send(self, event: Event) -> None:
        self.clock += 1
        stored = snapshot.loads(snapshot.dumps(self.step.snapshot))
        self.take(interpreter.advance(self.machine, stored, event, ShellEnv(self.clock)))

    def answer(self, match: Any, result: Any = None, *, fail: bool = False) -> ScheduleTask:
        command = next(c for c in self.open if match(c))
        self.open.remove(command)
        self.send(TaskFailed(command.task_id, "Boom", None) if fail else TaskSucceeded(command.task_id, result))
        return command

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for timer_id in timers:
            self.send(TimerFired(timer_id))


def item_of(index: int, state: str) -> Any:
    return lambda c: c.state_name == state and c.input == {"i": index}


def map_keys(mode: str, first_answers: list[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """Run a Map of four items, two at a time (each item two tasks), answering the first two items'
    tasks in the given order, then the rest as they come; returns every task's idempotency key (less the
    execution) by (item, state)."""
    run = Run({"StartAt": "Each", "States": {"Each": map_state(mode)}}, {"items": [{"i": i} for i in range(4)]})
    keys: dict[tuple[int, str], str] = {}

    def answer(match: Any, index: int) -> None:
        command = run.answer(match, {"i": index})
        keys[(index, command.state_name)] = idempotency_key(EXECUTION, command).removeprefix(EXECUTION + "/")

    for index, state in first_answers:
        answer(item_of(index, state), index)
    while run.open:
        first = run.open[0]
        answer(lambda c, first=first: c is first, first.input["i"])
    assert run.step.snapshot.status == "SUCCEEDED"
    return keys


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_a_map_iterations_task_keeps_its_key_whatever_order_its_siblings_moved_in(mode: str) -> None:
    # Item 2 starts once item 0 ends: after one task of item 1 was scheduled, or after none.
    one_way = map_keys(mode, [(0, "Work"), (0, "Again"), (1, "Work"), (1, "Again")])
    other_way = map_keys(mode, [(0, "Work"), (1, "Work"), (1, "Again"), (0, "Again")])
    assert one_way == other_way
    assert len(set(one_way.values())) == 8  # four items, two states each: eight runs, eight keys
    assert one_way[(2, "Work")] == "1.2/1/Work/0" and one_way[(2, "Again")] == "1.2/2/Again/0"


def test_each_visit_of_a_state_in_a_loop_is_another_run() -> None:
    run = Run({"StartAt": "Check", "States": {
        "Check": task("Enough", ResultPath="$.stock"),
        "Enough": {"Type": "Choice", "Choices": [{"Variable": "$.stock", "NumericGreaterThan": 0, "Next": "Done"}],
                   "Default": "Check"},
        "Done": {"Type": "Succeed"}}}, {})
    first = run.answer(lambda c: True, 0)
    second = run.answer(lambda c: True, 5)
    assert run.step.snapshot.status == "SUCCEEDED"
    assert (first.run_key, second.run_key) == ("1/Check/0", "3/Check/0")
    assert idempotency_key(EXECUTION, second) == f"{EXECUTION}/3/Check/0"


def test_a_retry_and_a_retried_map_run_under_new_keys() -> None:
    retry = [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    run = Run({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "Retry": retry,
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": task(Retry=retry)}}}}}, {"items": [1]})
    first = run.answer(lambda c: True, fail=True)
    run.fire_timers()
    retried = run.answer(lambda c: True, fail=True)  # the task's retry fails too: the Map fails
    run.fire_timers()
    again = run.answer(lambda c: True, "ok")  # the Map's retry runs the item again
    assert run.step.snapshot.status == "SUCCEEDED"
    assert [first.run_key, retried.run_key, again.run_key] == ["1.0/1/Work/0", "1.0/2/Work/1", "2.0/1/Work/0"]


def test_a_task_stored_before_run_keys_keeps_its_frame_in_its_key() -> None:
    stored = ScheduleTask(task_id="k3", frame_id="f2", state_name="Work", resource=FN, kind="lambda",
                          resource_type="lambda", service_resource="f", input={}, attempt=1)
    assert idempotency_key(EXECUTION, stored) == f"{EXECUTION}/f2/Work/1"


def test_iterations_stored_before_paths_are_named_by_their_frame_ids() -> None:
    """A Map running when frames had no paths yet: its iterations' next tasks must not share keys (with one
    another, or with the top level's) once they move on."""
    run = Run({"StartAt": "Each", "States": {"Each": map_state("INLINE")}}, {"items": [{"i": i} for i in range(2)]})
    stored = snapshot.loads(snapshot.dumps(run.step.snapshot))
    for frame in stored.frames.values():
        frame.path, frame.step = "", 0  # as a snapshot written before paths loads
    run.step = interpreter.Step(stored, [], [])
    keys = [run.answer(item_of(i, "Work"), {"i": i}).run_key for i in range(2)]
    again = [c.run_key for c in run.open]
    assert len(set(again)) == 2 and all(key.split("/")[0].startswith("f") for key in again), (keys, again)
