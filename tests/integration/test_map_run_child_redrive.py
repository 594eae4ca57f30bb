"""A redrive of a failed Map Run, on a real SQLite file: its Standard child executions that did not succeed
continue from the state where they stopped, its Express ones run again from their first state, and
DescribeMapRun counts what waits to be redriven (`pendingRedrive`) and what cannot be (`failuresNotRedrivable`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import task, wait_for

from stateway.engine import Engine, map_runs, runtime, service

pytestmark = pytest.mark.integration

DAY_MS = 24 * 3600 * 1000
SHOWN = ("total", "pending", "pendingRedrive", "running", "succeeded", "failed", "aborted", "failuresNotRedrivable")


class World:
    """The child executions' two functions. `first` always succeeds; `second` fails the first time it
    runs for an item in `broken` (the outside world is fixed after that). A call can be held (`hold`)
    until the test lets it go, so that the test sees a Map Run in the middle of its work."""

    def __init__(self, broken: set[int]) -> None:
        self.broken = broken
        self.calls: dict[str, list[int]] = {"first": [], "second": []}
        self.held: dict[tuple[str, int, int], threading.Event] = {}
        self.reached: dict[tuple[str, int, int], threading.Event] = {}
        self._lock = threading.Lock()

    def hold(self, function: str, item: int, call: int) -> None:
        """Hold the `call`-th call (1, 2, …) of `function` for `item` until `release`."""
        self.held[(function, item, call)] = threading.Event()
        self.reached[(function, item, call)] = threading.Event()

    def release(self, function: str, item: int, call: int) -> None:
        self.held[(function, item, call)].set()

    def wait_reached(self, function: str, item: int, call: int) -> None:
        assert self.reached[(function, item, call)].wait(30)

    def call(self, function: str, item: int) -> int:
        with self._lock:
            self.calls[function].append(item)
            key = (function, item, self.calls[function].count(item))
            fail = function == "second" and item in self.broken and key[2] == 1
        if key in self.held:
            self.reached[key].set()
            assert self.held[key].wait(60)
        if fail:
            raise RuntimeError(f"item {item} is not ready")
        return item * 10

    def first(self, event: Any, context: Any) -> Any:
        self.call("first", event)
        return event

    def second(self, event: Any, context: Any) -> Any:
        return self.call("second", event)


def definition(execution_type: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Label": "Each", "MaxConcurrency": 1, "End": True, **fields, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}, "StartAt": "First",
            "States": {"First": task("first", "Second"), "Second": task("second")}}}}}


@pytest.fixture
def world() -> World:
    return World(broken={1, 2})


@pytest.fixture
def engine(tmp_path: Path, world: World) -> Iterator[Engine]:
    started = Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={"first": world.first, "second": world.second},
                     poll_interval=0.05).start()
    yield started
    started.stop()


def the_map_run(engine: Engine, execution: str) -> str:
    (run,) = wait_for(lambda: map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0])
    return str(run["mapRunArn"])


def counts(engine: Engine, map_run: str, which: str = "itemCounts") -> dict[str, int]:
    described = map_runs.describe_map_run(engine.store, map_run)[which]
    return {k: described[k] for k in SHOWN}


def tally(total: int, **counted: int) -> dict[str, int]:
    return {k: counted.get(k, 0) for k in SHOWN} | {"total": total}


def failed_map_run(engine: Engine, execution_type: str, items: list[int], **fields: Any) -> tuple[str, str]:
    machine = engine.service.create_state_machine(f"m-{execution_type.lower()}", definition(execution_type, **fields))
    execution = engine.service.start_execution(machine, items)
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    return execution, the_map_run(engine, execution)


def test_standard_children_continue_from_the_state_where_they_failed(engine: Engine, world: World) -> None:
    # One at a time: item 0 succeeds, item 1 fails in Second (tolerated), item 2 fails in Second beyond
    # the tolerance and fails the Map Run; item 3 never started.
    execution, map_run = failed_map_run(engine, "STANDARD", [0, 1, 2, 3], ToleratedFailureCount=1)
    assert world.calls == {"first": [0, 1, 2], "second": [0, 1, 2]}
    assert counts(engine, map_run) == tally(4, succeeded=1, failed=2, aborted=1)

    world.hold("second", 1, 2)  # item 1's redriven Second, to see the Map Run at work
    engine.service.redrive_execution(execution)
    world.wait_reached("second", 1, 2)
    # Item 1 runs again; item 2 failed before and waits to be redriven; item 3 never ran: it is pending.
    busy = tally(4, succeeded=1, running=1, pendingRedrive=1, pending=1)
    wait_for(lambda: counts(engine, map_run) == busy)
    assert counts(engine, map_run, "executionCounts") == busy
    world.release("second", 1, 2)

    done = engine.wait(execution, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    assert done["output"] == "[0,10,20,30]"
    # Items 1 and 2 went on from Second: their First did not run again. Item 3 ran from its start.
    assert world.calls == {"first": [0, 1, 2, 3], "second": [0, 1, 2, 1, 2, 3]}
    assert counts(engine, map_run) == tally(4, succeeded=4)
    described = map_runs.describe_map_run(engine.store, map_run)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    types = [e["type"] for e in engine.service.get_execution_history(execution)]
    assert types[types.index("ExecutionRedriven"):] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_express_children_run_again_from_their_first_state(engine: Engine, world: World) -> None:
    execution, map_run = failed_map_run(engine, "EXPRESS", [0, 1, 2, 3], ToleratedFailureCount=1)
    assert counts(engine, map_run) == tally(4, succeeded=1, failed=2, aborted=1)

    world.hold("first", 1, 2)
    engine.service.redrive_execution(execution)
    world.wait_reached("first", 1, 2)
    wait_for(lambda: counts(engine, map_run) == tally(4, succeeded=1, running=1, pendingRedrive=1, pending=1))
    world.release("first", 1, 2)

    assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
    assert world.calls == {"first": [0, 1, 2, 1, 2, 3], "second": [0, 1, 2, 1, 2, 3]}
    assert counts(engine, map_run) == tally(4, succeeded=4)


def test_a_standard_child_cut_short_by_a_stop_continues_where_it_was(engine: Engine, world: World) -> None:
    """StopExecution aborts the Map Run and its running child execution; the redrive continues that child in
    the state it was in, as it continues a stopped execution."""
    world.broken.clear()
    world.hold("second", 0, 1)
    machine = engine.service.create_state_machine("stopped", definition("STANDARD"))
    execution = engine.service.start_execution(machine, [0, 1])
    world.wait_reached("second", 0, 1)
    map_run = the_map_run(engine, execution)
    engine.service.stop_execution(execution)
    assert engine.wait(execution, timeout=30)["status"] == "ABORTED"
    assert counts(engine, map_run) == tally(2, aborted=2)
    world.release("second", 0, 1)  # its answer comes too late: the execution has stopped

    engine.service.redrive_execution(execution)
    done = engine.wait(execution, timeout=30)
    assert done["status"] == "SUCCEEDED" and done["output"] == "[0,10]"
    assert world.calls == {"first": [0, 1], "second": [0, 0, 1]}
    assert counts(engine, map_run) == tally(2, succeeded=2)


def test_a_child_that_failed_more_than_14_days_before_the_redrive_fails_for_good(
        engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS redrives no Standard child execution that ended more than 14 days before: its failure stands.
    Item 1 fails (tolerated), item 2 fails 15 days later and fails the Map Run; the redrive continues item 2
    only, and the Map Run, whose one failure is tolerated, succeeds."""
    world.hold("first", 2, 1)
    machine = engine.service.create_state_machine("late", definition("STANDARD", ToleratedFailureCount=1))
    execution = engine.service.start_execution(machine, [0, 1, 2])
    world.wait_reached("first", 2, 1)
    map_run = the_map_run(engine, execution)
    for module in (runtime, service):
        real = module.now_ms
        monkeypatch.setattr(module, "now_ms", lambda real=real: real() + 15 * DAY_MS)
    world.release("first", 2, 1)
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    assert counts(engine, map_run) == tally(3, succeeded=1, failed=2)

    engine.service.redrive_execution(execution)
    done = engine.wait(execution, timeout=30)
    assert done["status"] == "SUCCEEDED" and done["output"] == "[0,null,20]"
    assert world.calls == {"first": [0, 1, 2], "second": [0, 1, 2, 2]}
    assert counts(engine, map_run) == tally(3, succeeded=2, failed=1, failuresNotRedrivable=1)
    assert counts(engine, map_run, "executionCounts") == counts(engine, map_run)


def test_a_batched_map_run_counts_the_items_and_the_child_executions_waiting_to_be_redriven(
        tmp_path: Path, world: World) -> None:
    """With an ItemBatcher a child execution runs a batch: `pendingRedrive` counts the waiting batches in
    executionCounts and their items in itemCounts."""
    def batch(event: Any, context: Any) -> Any:
        return [world.call("second", item) for item in event["Items"]][-1]

    world.broken = {2, 4}  # the batches [2, 3] and [4, 5] fail the first time
    machine = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 1, "ItemBatcher": {"MaxItemsPerBatch": 2}, "ToleratedFailureCount": 2,
        "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                       "StartAt": "Work", "States": {"Work": task("batch")}}}}}
    with Engine(f"sqlite:///{tmp_path / 'batched.db'}", functions={"batch": batch}, poll_interval=0.05) as engine:
        execution = engine.service.start_execution(engine.service.create_state_machine("batched", machine),
                                                   [0, 1, 2, 3, 4, 5])
        assert engine.wait(execution, timeout=30)["status"] == "FAILED"
        map_run = the_map_run(engine, execution)
        assert counts(engine, map_run) == tally(6, succeeded=2, failed=4)
        assert counts(engine, map_run, "executionCounts") == tally(3, succeeded=1, failed=2)

        world.hold("second", 2, 2)
        engine.service.redrive_execution(execution)
        world.wait_reached("second", 2, 2)
        wait_for(lambda: counts(engine, map_run) == tally(6, succeeded=2, running=2, pendingRedrive=2))
        assert counts(engine, map_run, "executionCounts") == tally(3, succeeded=1, running=1, pendingRedrive=1)
        world.release("second", 2, 2)
        assert engine.wait(execution, timeout=30)["status"] == "SUCCEEDED"
        assert counts(engine, map_run) == tally(6, succeeded=6)
        assert counts(engine, map_run, "executionCounts") == tally(3, succeeded=3)
