"""A redrive of a failed Parallel branch or inline Map iteration, on a real SQLite file and across a restart
between the failure and the redrive: each continues from the state where it stopped (failed, or was cut
short by a sibling's failure), the states it completed before do not run again, and the frames kept for
the redrive are rows of table `frames` until the execution succeeds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration


class World:
    """Task functions that record their calls. `second` fails the first time it runs for an item in
    `broken`; a call can be held (`hold`) until the test lets it go."""

    def __init__(self, broken: set[int]) -> None:
        self.broken = broken
        self.calls: list[tuple[str, int]] = []
        self.held: dict[tuple[str, int], threading.Event] = {}
        self.reached: dict[tuple[str, int], threading.Event] = {}
        self._lock = threading.Lock()

    def hold(self, function: str, item: int) -> None:
        """Hold the first call of `function` for `item` until `release`."""
        self.held[(function, item)] = threading.Event()
        self.reached[(function, item)] = threading.Event()

    def release(self, function: str, item: int) -> None:
        self.held[(function, item)].set()

    def wait_reached(self, function: str, item: int) -> None:
        assert self.reached[(function, item)].wait(30)

    def call(self, function: str, item: int) -> int:
        with self._lock:
            first = (function, item) not in self.calls
            self.calls.append((function, item))
        if first and (function, item) in self.held:
            self.reached[(function, item)].set()
            assert self.held[(function, item)].wait(60)
        if function == "second" and item in self.broken and first:
            raise RuntimeError(f"item {item} is not ready")
        return item

    def functions(self) -> dict[str, Any]:
        return {name: (lambda event, context, name=name: self.call(name, event))
                for name in ("solo", "first", "second")}


TWO_STEPS = {"StartAt": "First", "States": {"First": task("first", "Second"), "Second": task("second")}}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "e.db"


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.stop()


def start_engine(db: Path, world: World, engines: list[Engine]) -> Engine:
    engine = Engine(f"sqlite:///{db}", functions=world.functions(), poll_interval=0.05).start()
    engines.append(engine)
    return engine


def restart(db: Path, world: World, engines: list[Engine]) -> Engine:
    """Stop the running engine and start another on the same file: the redrive reads what was stored."""
    engines.pop().stop()
    return start_engine(db, world, engines)


def frame_rows(db: Path) -> int:
    return int(rows(db, "SELECT COUNT(*) FROM frames")[0][0])


def redrive_after_restart(db: Path, world: World, engines: list[Engine], execution: str
                          ) -> tuple[Engine, int, dict[str, Any]]:
    """A new engine on the file redrives the execution: (the engine, the calls made before, how it ended)."""
    engine = restart(db, world, engines)
    before = len(world.calls)
    engine.service.redrive_execution(execution)
    return engine, before, engine.wait(execution, timeout=30)


def test_a_failed_branch_continues_from_its_failed_state_after_a_restart(db: Path, engines: list[Engine]) -> None:
    world = World(broken={7})
    engine = start_engine(db, world, engines)
    machine = engine.service.create_state_machine("p", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [{"StartAt": "Solo", "States": {"Solo": task("solo")}},
                                                      TWO_STEPS]}}})
    execution = engine.service.start_execution(machine, 7)
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    assert sorted(world.calls) == [("first", 7), ("second", 7), ("solo", 7)]
    assert frame_rows(db) == 1, "the failed branch is kept, where it failed"

    engine, before, done = redrive_after_restart(db, world, engines, execution)
    assert done["status"] == "SUCCEEDED" and done["output"] == "[7,7]", done
    assert world.calls[before:] == [("second", 7)], "the branch's first state and the other branch did not run again"
    assert frame_rows(db) == 0
    types = [e["type"] for e in engine.service.get_execution_history(execution)]
    assert types[types.index("ExecutionRedriven"):][:4] == [
        "ExecutionRedriven", "ParallelStateEntered", "ParallelStateStarted", "TaskStateEntered"]


def test_an_inline_map_in_a_branch_reruns_only_what_did_not_succeed(db: Path, engines: list[Engine]) -> None:
    """Items 0, 1 and 2 run at once: item 0 succeeds; item 1 fails in Second while item 2 is in its Second
    (held), which the failure cuts short. After the redrive item 0 does not run again, item 1 continues
    from Second, and so does item 2, from where it was cut."""
    world = World(broken={1})
    world.hold("second", 1)
    world.hold("second", 2)
    engine = start_engine(db, world, engines)
    machine = engine.service.create_state_machine("m", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Solo", "States": {"Solo": task("solo", InputPath="$.solo")}},
            {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                                    "ItemProcessor": TWO_STEPS}}}]}}})
    execution = engine.service.start_execution(machine, {"solo": 9, "items": [0, 1, 2]})
    world.wait_reached("second", 1)
    world.wait_reached("second", 2)
    wait_for(lambda: any(e["type"] == "MapIterationSucceeded" for e in engine.service.get_execution_history(execution)))
    world.release("second", 1)
    assert engine.wait(execution, timeout=30)["status"] == "FAILED"
    world.release("second", 2)  # its answer comes too late: the iteration was cut short
    assert frame_rows(db) == 3, "the failed branch, its failed iteration and the one cut short"

    engine, before, done = redrive_after_restart(db, world, engines, execution)
    assert done["status"] == "SUCCEEDED" and done["output"] == "[9,[0,1,2]]", done
    assert sorted(world.calls[before:]) == [("second", 1), ("second", 2)]
    assert frame_rows(db) == 0
    events = engine.service.get_execution_history(execution)
    redriven = next(e["id"] for e in events if e["type"] == "ExecutionRedriven")
    assert sorted(e["mapIterationStartedEventDetails"]["index"] for e in events
                  if e["type"] == "MapIterationStarted" and e["id"] > redriven) == [1, 2]
