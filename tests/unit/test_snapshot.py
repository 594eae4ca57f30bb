"""Snapshots survive storage, whole or with their joins' bulk data kept apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stateway.asl import interpreter, snapshot
from stateway.asl.events import ExecutionInfo, TaskSucceeded
from stateway.asl.frames import UNPARSED, Join
from stateway.asl.parse import parse_machine, reads_execution_input
from stateway.engine.env import ShellEnv

MAP = {"StartAt": "M", "States": {"M": {
    "Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.items",
    "ItemSelector": {"value.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
    "ItemProcessor": {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True}}},
    "End": True}}}


def _running_map() -> tuple[Any, Any, ShellEnv]:
    machine = parse_machine(MAP)
    env = ShellEnv(1_000)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:m:e", "e", "arn:aws:states:us-east-1:1:stateMachine:m",
                         "m", "role", '{"items": [1, 2, 3, 4], "tag": "x"}', 1_000)
    step = interpreter.start(machine, info, env)
    first = step.commands[0]
    step = interpreter.advance(machine, step.snapshot, TaskSucceeded(first.task_id, {"done": 1}), env)
    return machine, step.snapshot, env


def test_whole_snapshot_round_trips() -> None:
    _, snap, _ = _running_map()
    text = snapshot.dumps(snap)
    assert snapshot.dumps(snapshot.loads(text)) == text


def test_joins_stored_apart_come_back_the_same() -> None:
    machine, snap, env = _running_map()
    stored: dict[str, tuple[list[Any], list[Any], Any]] = {}

    def keep(join: Join) -> None:
        stored[join.id] = (list(join.inputs), list(join.results), join.source)

    text = snapshot.dumps(snap, external=keep)
    assert '"items":[1,2,3,4]' not in text, "the Map's items are not written into the snapshot"
    body = json.loads(text)
    assert "input" not in body and body["execution"]["input_text"] is None, "nor is the execution input"
    loaded = snapshot.loads(text, join_data=lambda join_id, size: stored[join_id], input_text=snap.execution.input_text)
    assert snapshot.dumps(loaded) == snapshot.dumps(snap)
    # The loaded snapshot runs on exactly like the original.
    pending = sorted(loaded.tasks)
    step = interpreter.advance(machine, loaded, TaskSucceeded(pending[0], {"done": 2}), env)
    assert [e["type"] for e in step.events][:3] == ["LambdaFunctionSucceeded", "TaskStateExited", "MapIterationSucceeded"]


def test_frames_stored_apart_come_back_the_same() -> None:
    _, snap, _ = _running_map()
    texts: dict[str, str] = {}
    text = snapshot.dumps(snap, frame_text=texts.__setitem__)
    body = json.loads(text)
    assert list(body["frames"]) == ["root"], "the snapshot keeps the root frame"
    assert body["frame_ids"] == list(texts) and len(texts) == 2, "and the ids of the running iterations"
    loaded = snapshot.loads(text, frame_text=texts.__getitem__)
    assert list(loaded.frames) == list(snap.frames)
    assert snapshot.dumps(loaded) == snapshot.dumps(snap)


def test_the_execution_input_is_kept_parsed_only_where_context_can_read_it() -> None:
    _, snap, _ = _running_map()
    assert snap.input is UNPARSED, "no field of MAP reads $$.Execution.Input: its parse is not kept"
    reading = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"all.$": "$$.Execution.Input"},
                                               "Next": "W"},
                                         "W": {"Type": "Wait", "Seconds": 5, "End": True}}}
    machine = parse_machine(reading)
    assert machine.reads_execution_input and not parse_machine(MAP).reads_execution_input
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:m:r", "r", "arn:aws:states:us-east-1:1:stateMachine:m",
                         "m", "role", '{"a": [1]}', 1_000)
    step = interpreter.start(machine, info, ShellEnv(1_000))
    assert step.snapshot.input == {"a": [1]}
    assert json.loads(step.events[-1]["stateEnteredEventDetails"]["input"]) == {"all": {"a": [1]}}


@pytest.mark.parametrize(("text", "reads"), [
    ("$$.Map.Item.Value", False), ("$$.Execution.Name", False), ("States.Format('{}', $$.Execution.Id)", False),
    ("{% $states.input.x %}", False), ("{% $states.context.State.Name %}", False), ("$.items", False),
    ("$$.Execution.Input.items", True), ("$$", True), ("$$.Execution", True), ("$$['Execution']", True),
    ("{% $states.context %}", True), ("{% $states.context.Execution.Input %}", True), ("{% $states %}", True),
])
def test_which_references_may_read_the_execution_input(text: str, reads: bool) -> None:
    assert reads_execution_input({"States": {"S": {"Parameters": {"x.$": text}}}}) is reads
