"""Snapshots survive storage, whole or with their joins' bulk data kept apart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from stateway.asl import interpreter, snapshot
from stateway.asl.events import ExecutionInfo, ScheduleTask, TaskSucceeded
from stateway.asl.frames import STORED, UNPARSED, Join, JoinStore, Snapshot
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


class KeptJoins:
    """What a shell stores apart for each join, kept here in dicts through JSON as a store would."""

    def __init__(self) -> None:
        self.items: dict[str, dict[int, Any]] = {}
        self.results: dict[str, dict[int, Any]] = {}
        self.sources: dict[str, Any] = {}
        self.reads = 0
        self.source_reads = 0

    def external(self, join: Join, written: dict[str, list[int]]) -> None:
        """`dumps`' callback: a new join's inputs and source, and the results not stored yet (noted
        in `written` for `release`)."""
        if join.store is None:
            self.items[join.id] = json.loads(json.dumps(join.inputs))
            self.sources[join.id] = json.loads(json.dumps(join.source))
        self.results.setdefault(join.id, {}).update(json.loads(json.dumps(join.results)))
        written[join.id] = list(join.results)

    def store(self, join_id: str) -> JoinStore:
        """A JoinStore over one join's data."""
        kept = self

        class Kept:
            def items(self, start: int, stop: int) -> dict[int, Any]:
                kept.reads += 1
                return {i: v for i, v in ((int(k), v) for k, v in kept.items[join_id].items()) if start <= i < stop}

            def results(self) -> Iterator[list[tuple[int, Any]]]:
                kept.reads += 1
                return iter([sorted((int(k), v) for k, v in kept.results[join_id].items())])

            def source(self) -> Any:
                kept.reads += 1
                kept.source_reads += 1
                return kept.sources[join_id]

        return Kept()


def _map_machine(selector: dict[str, Any] | None, concurrency: int = 3, **fields: Any) -> Any:
    definition = json.loads(json.dumps(MAP))
    definition["States"]["M"].update(MaxConcurrency=concurrency, **fields)
    if fields.get("Next"):
        del definition["States"]["M"]["End"]
        definition["States"]["After"] = {"Type": "Pass", "End": True}
    if selector is None:
        del definition["States"]["M"]["ItemSelector"]
    else:
        definition["States"]["M"]["ItemSelector"] = selector
    return parse_machine(definition)


def _run_map(machine: Any, items: int, stored: KeptJoins | None,
             check: Callable[[Any], None] = lambda snap: None) -> tuple[list[dict[str, Any]], str | None]:
    """Run a Map to its end through the pure core, answering the oldest task first; with `stored`,
    the way the engine does: joins stored apart and let go of after every step, and every third
    step the snapshot reloaded from its text as after a restart. Returns (events, output)."""
    env = ShellEnv(1_000)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:m:e", "e", "arn:aws:states:us-east-1:1:stateMachine:m",
                         "m", "role", json.dumps({"items": [{"n": n} for n in range(items)], "tag": "x"}), 1_000)
    step = interpreter.start(machine, info, env)
    events, pending, steps = list(step.events), [], 0
    while True:
        snap = step.snapshot
        pending.extend(c for c in step.commands if isinstance(c, ScheduleTask))
        if stored is not None:
            texts: dict[str, str] = {}
            written: dict[str, list[int]] = {}
            text = snapshot.dumps(snap, frame_text=texts.__setitem__,
                                  external=partial(stored.external, written=written))
            snapshot.release(snap, stored.store, written)
            steps += 1
            if steps % 3 == 0:
                snap = snapshot.loads(text, join_store=stored.store, input_text=info.input_text, output=snap.output,
                                      frame_text=texts.__getitem__)
            check(snap)
        if snap.status != interpreter.RUNNING:
            return events, snap.output
        task = pending.pop(0)
        step = interpreter.advance(machine, snap, TaskSucceeded(task.task_id, {"done": task.input}), env)
        events.extend(step.events)


@pytest.mark.parametrize("selector", [
    None, {"value.$": "$$.Map.Item.Value"}, {"value.$": "$$.Map.Item.Value", "tag.$": "$.tag"}])
def test_joins_stored_apart_run_on_like_joins_in_memory(selector: dict[str, Any] | None) -> None:
    machine = _map_machine(selector)
    kept = KeptJoins()
    assert _run_map(machine, 150, kept) == _run_map(machine, 150, None)
    assert kept.reads >= 3, "items were read back in windows, and the results at the end"


@pytest.mark.parametrize("fields", [
    {"ResultPath": "$.results"},
    {"ResultPath": None},
    {"ResultSelector": {"x.$": "$.missing"}, "Next": "After",
     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "After"}]},
    {"ResultSelector": {"x.$": "$.missing"}, "Next": "After"},
])
def test_a_map_whose_end_reads_its_input_reads_it_back(fields: dict[str, Any]) -> None:
    machine = _map_machine({"value.$": "$$.Map.Item.Value"}, **fields)
    last: list[Any] = []
    events, output = _run_map(machine, 80, KeptJoins(), last.append)
    assert (events, output) == _run_map(machine, 80, None)
    if output is not None:
        assert json.loads(output)["tag"] == "x", "the output holds the Map's input"
    else:
        assert last[-1].status == "FAILED"
        assert last[-1].frames["root"].state_input["tag"] == "x", "kept for a redrive"


def test_a_stored_map_holds_a_window_of_items_and_no_results() -> None:
    machine = _map_machine({"value.$": "$$.Map.Item.Value"})
    seen: list[tuple[int, int]] = []

    def check(snap: Any) -> None:
        join = snap.frames["root"].join
        if join is not None:
            seen.append((len(join.inputs), len(join.results)))
            assert len(join.inputs) <= join.window and not join.results
            assert join.source is STORED and snap.frames["root"].state_input is STORED, "nor the Map's input"

    kept = KeptJoins()
    _, output = _run_map(machine, 500, kept, check)
    assert output is not None and len(json.loads(output)) == 500
    assert len(seen) > 400
    assert kept.source_reads == 0, "its output replaces its input: the input is never read back"


def test_a_selector_that_reads_the_map_input_keeps_it() -> None:
    machine = _map_machine({"tag.$": "$.tag"})
    kept = KeptJoins()
    _, output = _run_map(machine, 100, kept)
    assert json.loads(output or "null") == [{"done": {"tag": "x"}}] * 100
    # Read back once after each of the ~34 reloads, not after each of the ~100 steps that let go of data.
    assert 0 < kept.source_reads <= 40


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


@pytest.mark.parametrize("name, value", [
    ("index", False), ("entered_event_id", 0.0), ("state_input", 0), ("state_input", False),
    ("variables", {"x": 0}), ("retry_attempts", {0: 1}), ("done", True), ("state_input", {}),
])
def test_a_frame_leaves_out_only_the_fields_at_their_defaults(name: str, value: Any) -> None:
    _, snap, _ = _running_map()
    texts: dict[str, str] = {}
    snapshot.dumps(snap, frame_text=texts.__setitem__)
    frame_id = next(iter(texts))
    fresh = json.loads(texts[frame_id])
    assert "done" not in fresh and "variables" not in fresh and "timer_id" not in fresh, "defaults are left out"
    setattr(snap.frames[frame_id], name, value)
    text = snapshot.dumps(snap, frame_text=texts.__setitem__)
    loaded = snapshot.loads(text, frame_text=texts.__getitem__).frames[frame_id]
    # A value equal to the default but of another type (0 and False) must come back as it was.
    assert getattr(loaded, name) == value and type(getattr(loaded, name)) is type(value)


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


def test_a_snapshot_written_before_joins_kept_children_by_index_still_loads() -> None:
    machine, snap, env = _running_map()
    body = json.loads(snapshot.dumps(snap))
    join = body["frames"]["root"]["join"]
    size = join.pop("size")
    for name in ("input_is_source", "selector_reads_input"):
        join.pop(name)
    # Then: every child's input and a result slot per child, and the indices of those that succeeded.
    results = [None] * size
    for index, value in join["results"].items():
        results[int(index)] = value
    join.update(inputs=[1, 2, 3, 4], results=results, succeeded_indices=sorted(map(int, join["results"])))
    body["input"] = json.loads(snap.execution.input_text)
    old = snapshot.loads(json.dumps(body))
    assert old.frames["root"].join.size == 4 and old.frames["root"].join.results == snap.frames["root"].join.results
    pending = sorted(snap.tasks)
    new_step = interpreter.advance(machine, snap, TaskSucceeded(pending[0], {"done": 2}), env)
    old_step = interpreter.advance(machine, old, TaskSucceeded(pending[0], {"done": 2}), env)
    assert old_step.events == new_step.events


def test_a_snapshot_stored_with_its_joins_apart_leaves_out_the_input_and_output_the_shell_keeps() -> None:
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", '{"big":"input"}', 0)
    snap = Snapshot(execution=info, status="SUCCEEDED", output='{"big":"output"}')
    text = snapshot.dumps(snap, external=lambda join: None)
    assert "big" not in text
    loaded = snapshot.loads(text, input_text='{"big":"input"}', output='{"big":"output"}')
    assert loaded.output == '{"big":"output"}' and loaded.execution.input_text == '{"big":"input"}'
    assert snapshot.loads(snapshot.dumps(snap)).output == '{"big":"output"}', "kept in when nothing is apart"
