"""The pure core records the events of a distributed Map's STANDARD child executions in the children's own
histories (`Step.child_events`), as AWS records a child workflow execution's: ExecutionStarted, its states'
events, ExecutionSucceeded/Failed/Aborted, continued by ExecutionRedriven — numbered from 1 within each child,
apart from the parent's history, which does not change. EXPRESS children's events are not recorded."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from stateway.asl import history, interpreter, snapshot
from stateway.asl.events import (
    ChildExecutionChanged,
    ExecutionInfo,
    RedriveRequested,
    ScheduleTask,
    Step,
    StopRequested,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
)
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv

NOW = 1_767_225_600_000
FN = "arn:aws:lambda:us-east-1:1:function:f"
EXECUTION = "arn:aws:states:us-east-1:1:execution:M:parent"


def machine(states: dict[str, Any], start_at: str, execution_type: str = "STANDARD", **fields: Any) -> Any:
    return parse_machine({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Lab", "ItemsPath": "$.items", **fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": start_at, "States": states},
        "End": True}}})


def work(next_state: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": FN}
    return {**state, "Next": next_state} if next_state else {**state, "End": True}


class Run:
    """Drives one execution through the core, as the shell does, and keeps every history it wrote: the
    parent's events, and each child's by (Map Run, index). Each step's snapshot goes through its text."""

    def __init__(self, sm: Any, items: list[Any], role: str = "arn:aws:iam::1:role/r") -> None:
        self.sm = sm
        self.now = NOW
        self.parent: list[dict[str, Any]] = []
        self.children: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        self.tasks: dict[int, ScheduleTask] = {}  # the open task of each child, by the child's index
        info = ExecutionInfo(EXECUTION, "parent", "arn:aws:states:us-east-1:1:stateMachine:M", "M", role,
                             json.dumps({"items": items}), NOW)
        self.snap = None
        self.take(interpreter.start(sm, info, ShellEnv(NOW)))

    def take(self, step: Step) -> Step:
        self.snap = snapshot.loads(snapshot.dumps(step.snapshot))
        self.parent += step.events
        for key, rows in step.child_events.items():
            self.children[key] += [history.event_of_row(row) for row in rows]
        for command in step.commands:
            if isinstance(command, ScheduleTask):
                self.tasks[int(command.run_key.split("/")[0].split(".")[1])] = command
        return step

    def advance(self, event: Any) -> Step:
        self.now += 1000
        return self.take(interpreter.advance(self.sm, self.snap, event, ShellEnv(self.now)))

    def finish(self, index: int, output: Any = None, error: str | None = None, started: bool = True) -> None:
        task = self.tasks.pop(index)
        if started:
            self.advance(TaskStarted(task.task_id))
        self.advance(TaskFailed(task.task_id, error, "it broke") if error else TaskSucceeded(task.task_id, output))

    def child(self, index: int) -> list[dict[str, Any]]:
        (key,) = [key for key in self.children if key[1] == index]
        return self.children[key]


def shape(events: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    return [(e["id"], e["previousEventId"], e["type"]) for e in events]


def details(event: dict[str, Any]) -> Any:
    return event.get(history.details_key(event["type"]))


def test_a_standard_child_records_its_own_history_numbered_from_one() -> None:
    sm = machine({"Hello": {"Type": "Pass", "Result": {"greeting": "hi"}, "ResultPath": "$.p", "Next": "Work"},
                  "Work": work()}, "Hello")
    run = Run(sm, [{"n": 1}, {"n": 2}])
    parent_before = shape(run.parent)
    run.finish(0, {"done": 1})
    run.finish(1, {"done": 2})
    assert run.snap is not None and run.snap.status == "SUCCEEDED"
    first = run.child(0)
    assert shape(first) == [(1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
                            (4, 3, "TaskStateEntered"), (5, 4, "LambdaFunctionScheduled"),
                            (6, 5, "LambdaFunctionStarted"), (7, 6, "LambdaFunctionSucceeded"),
                            (8, 7, "TaskStateExited"), (9, 8, "ExecutionSucceeded")]
    assert details(first[0]) == {"input": '{"n":1}', "inputDetails": {"truncated": False},
                                 "roleArn": "arn:aws:iam::1:role/r"}
    assert details(first[1])["input"] == '{"n":1}'
    assert details(first[4])["input"] == '{"n":1,"p":{"greeting":"hi"}}'
    assert details(first[-1]) == {"output": '{"done":1}', "outputDetails": {"truncated": False}}
    assert [e["timestamp"] for e in first] == [NOW] * 5 + [NOW + 1000] + [NOW + 2000] * 3
    assert shape(run.child(1))[-1] == (9, 8, "ExecutionSucceeded")
    # The parent's history holds none of it: the Map Run's events only, as before.
    assert [t for _, _, t in shape(run.parent)] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    assert shape(run.parent)[:4] == parent_before
    assert [e["id"] for e in run.parent] == list(range(1, 9))


def test_a_failing_child_ends_its_history_with_execution_failed_and_its_running_siblings_are_aborted() -> None:
    sm = machine({"Work": work()}, "Work")
    run = Run(sm, [{"n": 1}, {"n": 2}, {"n": 3}])
    run.finish(1, {"done": 2})
    run.finish(0, error="Broken")  # no tolerated failures: the Map Run fails, child 2 is cut short
    assert run.snap is not None and run.snap.status == "FAILED"
    assert shape(run.child(0))[-3:] == [(4, 3, "LambdaFunctionStarted"), (5, 4, "LambdaFunctionFailed"),
                                        (6, 5, "ExecutionFailed")]
    assert details(run.child(0)[-1]) == {"error": "Broken", "cause": "it broke"}
    assert shape(run.child(1))[-1] == (7, 6, "ExecutionSucceeded")
    # Cut short while its task was scheduled: aborted from outside, chained to no event (as a stop is).
    assert shape(run.child(2)) == [(1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"),
                                   (3, 2, "LambdaFunctionScheduled"), (4, 0, "ExecutionAborted")]
    assert run.child(2)[-1]["timestamp"] == NOW + 4000


def test_a_stop_of_the_parent_aborts_the_running_children_in_their_histories() -> None:
    sm = machine({"Work": work()}, "Work", MaxConcurrency=1)
    run = Run(sm, [{"n": 1}, {"n": 2}])
    run.advance(StopRequested("Enough", None))
    assert shape(run.child(0))[-1] == (4, 0, "ExecutionAborted")
    assert len(run.children) == 1  # the second child never started: it has no history


def test_a_redriven_child_continues_its_history_with_execution_redriven() -> None:
    sm = machine({"First": work("Second"), "Second": work()}, "First")
    run = Run(sm, [{"n": 1}])
    run.finish(0, {"one": 1})
    run.finish(0, error="NotYet")
    assert run.snap is not None and run.snap.status == "FAILED"
    before = shape(run.child(0))
    assert before[-1] == (11, 10, "ExecutionFailed")
    run.advance(RedriveRequested(run.now + 500))
    run.finish(0, {"two": 2})
    assert run.snap.status == "SUCCEEDED"
    after = run.child(0)
    assert shape(after)[:11] == before
    # It goes on from the state that failed (First is not run again), after ExecutionRedriven.
    assert shape(after)[11:] == [(12, 11, "ExecutionRedriven"), (13, 12, "TaskStateEntered"),
                                 (14, 13, "LambdaFunctionScheduled"), (15, 14, "LambdaFunctionStarted"),
                                 (16, 15, "LambdaFunctionSucceeded"), (17, 16, "TaskStateExited"),
                                 (18, 17, "ExecutionSucceeded")]
    assert details(after[11]) == {"redriveCount": 1}
    assert details(after[12])["name"] == "Second"
    assert after[11]["timestamp"] == run.now - 2000  # the redrive's step: when the Map Run redrove it
    # The parent's history records the Map Run's redrive, and nothing of the child's.
    assert "MapRunRedriven" in [e["type"] for e in run.parent]
    assert not {"TaskStateEntered", "ExecutionRedriven"} & {e["type"] for e in run.parent[-6:]}


def test_a_child_history_is_what_its_states_record_as_an_execution_of_their_own() -> None:
    """Parallel branches and inline Map iterations inside a child execution: their events are in the child's
    history, numbered and chained as the same states number and chain them run as an execution."""
    states = {
        "Both": {"Type": "Parallel", "Next": "Inline", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
        "Inline": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}}},
    }
    run = Run(machine(states, "Both"), [[1, 2]])
    assert run.snap is not None and run.snap.status == "SUCCEEDED"
    info = ExecutionInfo(EXECUTION, "alone", "arn:aws:states:us-east-1:1:stateMachine:A", "A", "r", "[1,2]", NOW)
    expected = interpreter.start(parse_machine({"StartAt": "Both", "States": states}), info, ShellEnv(NOW)).events
    events = run.child(0)
    assert shape(events) == shape(expected)
    assert [details(e) for e in events[1:]] == [details(e) for e in expected[1:]]
    assert "MapIterationStarted" in {e["type"] for e in events} and "PassStateEntered" in {e["type"] for e in events}


def test_express_children_and_map_runs_inside_children_record_no_history() -> None:
    express = Run(machine({"Work": work()}, "Work", "EXPRESS"), [{"n": 1}])
    express.finish(0, {"ok": True})
    assert express.snap is not None and express.snap.status == "SUCCEEDED"
    assert express.children == {}
    inner = {"Type": "Map", "Label": "In", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
        "States": {"Work": work()}}}
    nested = Run(machine({"Inner": inner}, "Inner"), [[{"n": 1}]])
    nested.finish(0, {"ok": True})
    assert nested.snap is not None and nested.snap.status == "SUCCEEDED"
    # The outer child's history holds its own Map state and its Map Run's events; the inner child (a Map Run
    # inside a child execution, which is not stored) records none.
    (outer,) = nested.children.values()
    assert [t for _, _, t in shape(outer)] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    reported = [c for c in nested.advance(StopRequested()).commands if isinstance(c, ChildExecutionChanged)]
    assert reported == []  # ended already: nothing more happens to it


def test_a_child_started_before_its_events_were_recorded_goes_on_without_a_history() -> None:
    sm = machine({"First": work("Second"), "Second": work()}, "First")
    run = Run(sm, [{"n": 1}])
    assert run.snap is not None
    for frame in run.snap.frames.values():  # as a snapshot stored before children's events were recorded
        frame.execution_next_event_id = 0
    run.children.clear()
    run.finish(0, {"one": 1})
    run.finish(0, error="NotYet")
    run.advance(RedriveRequested(run.now))
    run.finish(0, {"two": 2})
    assert run.snap.status == "SUCCEEDED" and run.children == {}
