"""Frames as rows: each running Parallel branch and Map iteration is a row of table `frames`.

The execution's snapshot keeps only its root frame and the ids of the others; a commit writes the
frames whose text changed and deletes the rows of frames that ended, in the round's transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.asl import interpreter
from stateway.asl.frames import ITEMS_PER_RUN, STORED, Join
from stateway.engine import Engine
from stateway.engine.join_data import JoinRow, StoredJoin, join_rows
from stateway.store.sqlite import SqliteStore
from stateway.testing.local import LocalRunner

pytestmark = pytest.mark.integration

class Gate:
    """A task function that holds every call until the test opens the gate; counts the calls."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.calls += 1
        self.open.wait(30)
        return event




def stored_snapshot(path: Path, arn: str) -> dict[str, Any]:
    """The execution row's snapshot document."""
    (text,), = rows(path, "SELECT snapshot FROM executions WHERE arn = ?", arn)
    return dict(json.loads(text))


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test starts; each is stopped at the end."""
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.stop()


@pytest.fixture(params=[False, True], ids=["input parsed", "input kept as text"])
def input_as_text(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the test twice: with the execution input parsed, and — as a large one is — kept as text by a
    Map that can select its items from it (`interpreter.first_input`)."""
    if request.param:
        monkeypatch.setattr(interpreter, "LARGE_INPUT_CHARS", 0)
    return bool(request.param)


def start_engine(engines: list[Engine], path: Path, functions: dict[str, Any]) -> Engine:
    engine = Engine(f"sqlite:///{path}", functions=functions, workers=8, poll_interval=0.05).start()
    engines.append(engine)
    return engine


MAP = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3, "End": True,
    "ItemProcessor": {"StartAt": "Work", "States": {"Work": task("work")}}}}}


def test_map_iterations_are_rows_while_they_run(tmp_path: Path, engines: list[Engine]) -> None:
    gate = Gate()
    path = tmp_path / "frames.db"
    engine = start_engine(engines, path, {"work": gate})
    machine = engine.service.create_state_machine("fan", MAP)
    arn = engine.service.start_execution(machine, {"items": [{"n": n} for n in range(7)]})
    wait_for(lambda: gate.calls == 3)
    # Functions start while their round is being written: wait for the rows, not just the calls.
    wait_for(lambda: len(rows(path, "SELECT frame_id FROM frames WHERE execution_arn = ?", arn)) == 3)
    snap = stored_snapshot(path, arn)
    frame_rows = rows(path, "SELECT frame_id, body FROM frames WHERE execution_arn = ?", arn)
    assert list(snap["frames"]) == ["root"], "the snapshot keeps only the root frame"
    assert sorted(snap["frame_ids"]) == sorted(frame_id for frame_id, _ in frame_rows)
    assert len(frame_rows) == 3, "one row per running iteration: MaxConcurrency of them"
    # A frame's text leaves out the fields at their defaults: index 0 is not written.
    assert sorted(json.loads(body).get("index", 0) for _, body in frame_rows) == [0, 1, 2]
    gate.open.set()
    assert engine.wait(arn)["status"] == "SUCCEEDED"
    assert rows(path, "SELECT COUNT(*) FROM frames") == [(0,)], "ended iterations leave no rows"
    assert rows(path, "SELECT snapshot FROM executions WHERE arn = ?", arn) == [(None,)]


PARALLEL = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}},
    {"StartAt": "S1", "States": {"S1": task("step", "S2"), "S2": task("step", "S3"), "S3": task("step", "S4"),
                                 "S4": task("step")}},
]}}}


def test_an_unchanged_frame_is_not_rewritten(tmp_path: Path, engines: list[Engine]) -> None:
    path = tmp_path / "writes.db"
    engine = start_engine(engines, path, {"step": lambda event, context: event})
    with sqlite3.connect(path) as db:
        # Every INSERT (and INSERT OR REPLACE) into `frames` is logged with the frame's branch program.
        db.executescript("""
            CREATE TABLE frame_writes (frame_id TEXT, program TEXT);
            CREATE TRIGGER log_frame_write AFTER INSERT ON frames BEGIN
                INSERT INTO frame_writes VALUES (NEW.frame_id, json_extract(NEW.body, '$.program'));
            END;""")
    machine = engine.service.create_state_machine("par", PARALLEL)
    arn = engine.service.start_execution(machine, {})
    # The second branch runs its four tasks to the end; the first one waits for an hour.
    wait_for(lambda: rows(path, "SELECT COUNT(*) FROM frames WHERE execution_arn = ?", arn) == [(1,)]
             and [e["type"] for e in engine.service.get_execution_history(arn)].count("LambdaFunctionSucceeded") == 4)
    assert engine.service.describe_execution(arn)["status"] == "RUNNING"
    writes = dict(rows(path, "SELECT program, COUNT(*) FROM frame_writes GROUP BY program"))
    assert writes["/States/P/Branches/0"] == 1, "the waiting branch was written once, when it began waiting"
    # The working branch was written as it moved on, at most once per step (the writer stores a
    # batch's net effect: a state it passed through within one batch is not written at all).
    assert writes.get("/States/P/Branches/1", 0) <= 5
    (remaining,), = rows(path, "SELECT body FROM frames WHERE execution_arn = ?", arn)
    assert json.loads(remaining)["state"] == "Hold"
    engine.service.stop_execution(arn)
    assert engine.wait(arn)["status"] == "ABORTED"


def test_a_restart_in_the_middle_of_a_map_resumes_from_the_rows(tmp_path: Path, engines: list[Engine],
        input_as_text: bool) -> None:
    gate = Gate()
    path = tmp_path / "restart.db"
    first = start_engine(engines, path, {"work": gate})
    machine = first.service.create_state_machine("fan", MAP)
    items = [{"n": n} for n in range(12)]
    arn = first.service.start_execution(machine, {"items": items})
    wait_for(lambda: gate.calls == 3)
    first.stop()
    assert len(rows(path, "SELECT frame_id FROM frames WHERE execution_arn = ?", arn)) == 3
    # A new engine on the same file loads the root from the snapshot and the iterations from their rows;
    # the three that were running are run again, the other nine start from the stored items.
    second = start_engine(engines, path, {"work": lambda event, context: {"done": event["n"]}})
    description = second.wait(arn)
    gate.open.set()
    assert description["status"] == "SUCCEEDED", description
    assert json.loads(description["output"]) == [{"done": n} for n in range(12)]
    history = second.service.get_execution_history(arn)
    done = sorted(e["mapIterationSucceededEventDetails"]["index"] for e in history
                  if e["type"] == "MapIterationSucceeded")
    assert done == list(range(12))
    assert rows(path, "SELECT COUNT(*) FROM frames") == [(0,)]


def test_a_running_map_keeps_a_window_of_its_items_and_none_of_its_results(tmp_path: Path, engines: list[Engine],
                                                                            input_as_text: bool) -> None:
    path = tmp_path / "window.db"
    items = [{"n": n} for n in range(400)]

    def join_in_memory(engine: Engine) -> Any:
        """The running Map's join as the decider holds it (idle while every task waits at a gate)."""
        loaded = engine._load(arn)
        assert loaded is not None and loaded.snapshot is not None
        return loaded.snapshot.frames["root"], loaded.snapshot.frames["root"].join

    first_gate = Gate()
    first = start_engine(engines, path, {"work": first_gate})
    arn = first.service.start_execution(first.service.create_state_machine("fan", MAP), {"items": items})
    # Released once the commit that stored them is durable (the store is attached when it is handed over).
    wait_for(lambda: first_gate.calls == 3 and join_in_memory(first)[1].source is STORED)
    root, join = join_in_memory(first)
    assert join.size == 400 and not join.texts and not join.results, "all stored: none kept after the commit"
    # The items parsed as the first iterations started are the rest of a window: all of them (400,
    # more than a window) were parsed at once, of the input kept as text only their first run.
    assert sorted(join.inputs) == (list(range(3, ITEMS_PER_RUN)) if input_as_text else [])
    assert root.state_input is STORED and join.source is STORED, "nor the Map's input (nothing reads it)"
    first.stop()

    second_gate = Gate()
    second = start_engine(engines, path, {"work": second_gate})
    # The re-run tasks' TaskStarted make the decider load the execution: then it is cached, as checked.
    wait_for(lambda: second_gate.calls == 3 and arn in second._cache)
    root, join = join_in_memory(second)
    assert not join.inputs and not join.results and root.state_input is STORED, "loading reads none of them"
    second_gate.open.set()
    first_gate.open.set()
    description = second.wait(arn)
    assert description["status"] == "SUCCEEDED", description
    assert json.loads(description["output"]) == items


def test_join_data_rows_read_back_by_window(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "joins.db")
    # Children 0-2 started before the first commit: their inputs are not stored.
    join = Join(kind="map", size=200, inputs={i: {"n": i} for i in range(3, 200)}, results={5: "five", 3: None},
                source={"items": "..."}, id="j1")
    rows: list[JoinRow] = []
    written: dict[str, list[int]] = {}
    join_rows("arn:x", join, rows=rows, written=written)
    assert written == {"j1": [5, 3]}
    assert len([r for r in rows if r[2] == "items"]) == 4, "runs of consecutive inputs, one block per row"
    with store.write() as db:
        db.executemany(store.q["put_join_data"], rows)
        # What engines before rows of runs wrote: one input, or one result, per row.
        db.executemany(store.q["put_join_data"], [("arn:x", "j1", "result", 7, '"seven"')])
    stored = StoredJoin(store, "arn:x", "j1")
    assert stored.items(60, 70) == {i: {"n": i} for i in range(60, 128)}, "the window, and the rest of its rows"
    assert stored.items(0, 5) == {i: {"n": i} for i in range(3, 64)}
    assert list(stored.results()) == [[(3, None), (5, "five"), (7, "seven")]], "a row of one result is merged"
    assert stored.source() == {"items": "..."}
    join.store, join.inputs, join.results = stored, {}, {9: "nine"}
    assert join.result_list()[:10] == [None, None, None, None, None, "five", None, "seven", None, "nine"]
    assert json.loads(join.result_text()) == join.result_list()
    store.close()


# ---- joins stored apart run as joins in memory do -----------------------------------------------

ITEMS = {"tag": "t", "items": [{"n": n} for n in range(150)]}


def echo(event: Any, context: Any) -> Any:
    """The item back, failing for every n divisible by 10 when the item asks to."""
    if isinstance(event, dict) and event.get("fail") and event["n"] % 10 == 0:
        raise ValueError(f"item {event['n']}")
    return event


def fan(**fields: Any) -> dict[str, Any]:
    """A Map over `$.items` of one `echo` Task, three at a time, with the given fields."""
    state = {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
             "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": task("echo")}}, "End": True, **fields}
    if "Next" in state:
        del state["End"]
    return state


AFTER = {"Type": "Pass", "End": True}
JSONATA_MAP = {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% $states.input.items %}", "MaxConcurrency": 3,
               "ItemSelector": {"n": "{% $states.context.Map.Item.Value.n %}", "tag": "{% $states.input.tag %}"},
               "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": task("echo")}},
               "Output": "{% {'count': $count($states.result), 'tag': $states.input.tag, 'last': $states.result[-1]} %}",
               "End": True}
STORED_JOINS = {
    "selector reads the input, result path": {"StartAt": "M", "States": {"M": fan(
        ItemSelector={"n.$": "$$.Map.Item.Value.n", "tag.$": "$.tag"}, ResultPath="$.out")}},
    "jsonata selector and output read the input": {"StartAt": "M", "States": {"M": JSONATA_MAP}},
    "tolerated failures are nulls": {"StartAt": "M", "States": {"M": fan(
        ItemSelector={"n.$": "$$.Map.Item.Value.n", "fail": True}, ToleratedFailurePercentage=20)}},
    "too many failures are caught with the input": {"StartAt": "M", "States": {"M": fan(
        ItemSelector={"n.$": "$$.Map.Item.Value.n", "fail": True}, ToleratedFailureCount=3, Next="After",
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "After"}]), "After": AFTER}},
    "the output as text, read by the next state": {"StartAt": "M", "States": {"M": fan(Next="Pick"), "Pick": {
        "Type": "Pass", "InputPath": "$[7]", "End": True}}},
    "a Map in a Parallel branch": {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "M", "States": {"M": fan(ResultSelector={"count.$": "States.ArrayLength($)"})}},
        {"StartAt": "E", "States": {"E": task("echo")}}]}}},
    "a Map in a Map": {"StartAt": "Shape", "States": {
        "Shape": {"Type": "Pass", "Parameters": {"outer.$": "$.items[0:6]", "inner.$": "$.items[0:80]"},
                  "Next": "Outer"},
        "Outer": {"Type": "Map", "ItemsPath": "$.outer", "MaxConcurrency": 2, "End": True,
                  "ItemSelector": {"items.$": "$.inner"},
                  "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": fan()}}}}},
}

# How many iterations run before the Map fails depends on which of three concurrent ones finish first.
TIMING_DEPENDENT = {"too many failures are caught with the input"}


@pytest.mark.parametrize("name", sorted(STORED_JOINS))
def test_stored_joins_run_like_the_local_runner(name: str, tmp_path: Path, engines: list[Engine],
        input_as_text: bool) -> None:
    definition = STORED_JOINS[name]
    engine = start_engine(engines, tmp_path / "joins.db", {"echo": echo})
    arn = engine.service.start_execution(engine.service.create_state_machine("m", definition), ITEMS)
    description = engine.wait(arn, timeout=60)
    local = LocalRunner({"echo": echo}).run(definition, ITEMS)
    assert description["status"] == local.status, description
    if local.status == "SUCCEEDED":
        assert json.loads(description["output"]) == local.output_value
    history = engine.service.get_execution_history(arn)
    if name not in TIMING_DEPENDENT:
        assert Counter(e["type"] for e in history) == Counter(e["type"] for e in local.events)
    assert rows(tmp_path / "joins.db", "SELECT COUNT(*) FROM frames") == [(0,)]


def test_a_retried_map_reads_its_input_back(tmp_path: Path, engines: list[Engine],
        input_as_text: bool) -> None:
    def once_per_run() -> Callable[[Any, Any], Any]:
        failed: set[int] = set()

        def flaky(event: Any, context: Any) -> Any:
            if event["n"] == 40 and 40 not in failed:
                failed.add(40)
                raise ValueError("the first attempt of item 40 fails")
            return event

        return flaky

    definition = {"StartAt": "M", "States": {"M": fan(
        ResultPath="$.out", Retry=[{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        ItemProcessor={"StartAt": "F", "States": {"F": task("flaky")}})}}
    engine = start_engine(engines, tmp_path / "retry.db", {"flaky": once_per_run()})
    arn = engine.service.start_execution(engine.service.create_state_machine("m", definition), ITEMS)
    description = engine.wait(arn, timeout=60)
    local = LocalRunner({"flaky": once_per_run()}).run(definition, ITEMS)
    assert description["status"] == local.status == "SUCCEEDED", description
    assert json.loads(description["output"]) == local.output_value == {**ITEMS, "out": ITEMS["items"]}


def test_a_map_stopped_while_running_is_redriven_from_its_stored_input(tmp_path: Path, engines: list[Engine],
        input_as_text: bool) -> None:
    gate = Gate()
    engine = start_engine(engines, tmp_path / "redrive.db", {"work": gate})
    items = [{"n": n} for n in range(200)]
    arn = engine.service.start_execution(engine.service.create_state_machine("fan", MAP), {"items": items})
    wait_for(lambda: gate.calls == 3)
    engine.service.stop_execution(arn)
    assert engine.wait(arn)["status"] == "ABORTED"
    gate.open.set()
    engine.service.redrive_execution(arn)
    description = engine.wait(arn)
    assert description["status"] == "SUCCEEDED", description
    assert json.loads(description["output"]) == items


def scratch_rows(path: Path, arn: str) -> tuple[int, int]:
    """(join_data rows, frames rows) of an execution."""
    (joins,), = rows(path, "SELECT count(*) FROM join_data WHERE execution_arn = ?", arn)
    (frames,), = rows(path, "SELECT count(*) FROM frames WHERE execution_arn = ?", arn)
    return joins, frames


def test_a_map_in_a_loop_leaves_no_rows_of_the_visits_that_ended(tmp_path: Path, engines: list[Engine]) -> None:
    hold = Gate()
    engine = start_engine(engines, tmp_path / "loop.db", {"work": lambda event, context: event, "hold": hold})
    looping = {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": None, "Next": "Count",
                "ItemProcessor": {"StartAt": "Work", "States": {"Work": task("work")}}},
        "Count": {"Type": "Pass", "Parameters": {"items.$": "$.items", "n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 5, "Next": "Fan"}],
                  "Default": "Hold"},
        "Hold": task("hold")}}
    arn = engine.service.start_execution(engine.service.create_state_machine("loop", looping),
                                         {"items": [1, 2, 3], "n": 0})
    # A function starts before the round that scheduled it is stored: wait for that round's commit.
    wait_for(lambda: hold.calls and any(e.get("stateEnteredEventDetails", {}).get("name") == "Hold"
                                        for e in engine.service.get_execution_history(arn)))
    assert scratch_rows(tmp_path / "loop.db", arn) == (0, 0)  # five Map visits ended: none kept
    hold.open.set()
    assert engine.wait(arn)["status"] == "SUCCEEDED"
    assert scratch_rows(tmp_path / "loop.db", arn) == (0, 0)


def test_a_failed_map_keeps_its_rows_for_a_redrive_until_none_can_come(tmp_path: Path, engines: list[Engine]) -> None:
    def work(event: Any, context: Any) -> Any:
        if event == 2:
            raise RuntimeError("not this one")
        return event

    engine = start_engine(engines, tmp_path / "failed.db", {"work": work})
    machine = engine.service.create_state_machine("failing", MAP)
    arn = engine.service.start_execution(machine, {"items": list(range(100))})
    assert engine.wait(arn)["status"] == "FAILED"
    joins, frames = scratch_rows(tmp_path / "failed.db", arn)
    assert joins > 0  # the results of the iterations that succeeded, which a redrive keeps
    engine.service.delete_state_machine(machine)  # its executions cannot be redriven any more
    assert scratch_rows(tmp_path / "failed.db", arn) == (0, 0)


def test_an_execution_failed_at_the_history_quota_keeps_no_frames_or_join_rows(tmp_path: Path,
                                                                                engines: list[Engine]) -> None:
    spinning = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {"StartAt": "Spin", "States": {
            "Spin": {"Type": "Pass", "Next": "Loop"},
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": -1, "Next": "Spin"}],
                     "Default": "Done"},
            "Done": {"Type": "Succeed"}}}}}}
    engine = start_engine(engines, tmp_path / "quota.db", {})
    arn = engine.service.start_execution(engine.service.create_state_machine("spin", spinning),
                                         {"items": list(range(200))})
    described = engine.wait(arn, timeout=120)
    assert (described["status"], described["redriveStatus"]) == ("FAILED", "NOT_REDRIVABLE")
    assert scratch_rows(tmp_path / "quota.db", arn) == (0, 0)


def test_an_execution_that_no_redrive_can_continue_keeps_no_snapshot(tmp_path: Path, engines: list[Engine]) -> None:
    """Only a redrive reads an ended execution's snapshot, frames and join data: a SUCCEEDED execution
    keeps none of them, a FAILED one (redrivable) keeps its snapshot and the failed Map's results."""
    path = tmp_path / "ended.db"
    engine = start_engine(engines, path, {"echo": echo})
    machine = engine.service.create_state_machine("m", {"StartAt": "M", "States": {"M": fan()}})
    succeeded = engine.service.start_execution(machine, ITEMS)
    failed = engine.service.start_execution(machine, {"items": [{**item, "fail": True} for item in ITEMS["items"]]})
    assert engine.wait(succeeded)["status"] == "SUCCEEDED" and engine.wait(failed)["status"] == "FAILED"
    assert rows(path, "SELECT snapshot FROM executions WHERE arn = ?", succeeded) == [(None,)]
    assert scratch_rows(path, succeeded) == (0, 0)
    assert stored_snapshot(path, failed)["status"] == "FAILED"
    assert scratch_rows(path, failed)[0] > 0
    # What the API answers for the ended executions comes from their own columns.
    described = engine.service.describe_execution(succeeded)
    assert json.loads(described["output"]) == ITEMS["items"]
    assert engine.service.get_execution_history(succeeded)[-1]["type"] == "ExecutionSucceeded"
    engine.service.redrive_execution(failed)  # the failures stay: it fails again, from its stored Map
    assert engine.wait(failed)["status"] == "FAILED"
