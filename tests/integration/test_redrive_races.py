"""RedriveExecution beside other writers, on a real SQLite file: a concurrent redrive or DeleteStateMachine
is serialised with it, and the decider continues only an execution that ended unsuccessfully."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.asl.events import RedriveRequested
from stateway.engine import Engine, service
from stateway.engine import errors as api
from stateway.engine.codec import event_to_json

pytestmark = pytest.mark.integration


class FailsFirst:
    """A task function that fails its first call for each input and succeeds after (a redrive succeeds)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        key = json.dumps(event, sort_keys=True)
        with self._lock:
            first = key not in self.seen
            self.seen.add(key)
        if first:
            raise RuntimeError("not yet")
        return event


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    started = Engine(f"sqlite:///{tmp_path / 'races.db'}", functions={"flip": FailsFirst()}, poll_interval=0.05)
    yield started.start()
    started.stop()


def failed_execution(engine: Engine, name: str) -> tuple[str, str]:
    """(machine, execution) of a machine whose one Task fails its first call; the execution has failed."""
    machine = engine.service.create_state_machine(name, {"StartAt": "T", "States": {"T": task("flip")}})
    execution = engine.service.start_execution(machine, {"name": name})
    assert engine.wait(execution, timeout=10)["status"] == "FAILED"
    return machine, execution


def redriven_events(engine: Engine, execution: str) -> int:
    return sum(e["type"] == "ExecutionRedriven" for e in engine.service.get_execution_history(execution))


def just_before_the_next_write(engine: Engine, monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
    """Make `action` commit right before the next write transaction of the service begins (after any
    check made outside it)."""
    store = engine.service.store
    write = store.write
    pending = [action]

    @contextlib.contextmanager
    def preceded() -> Iterator[Any]:
        if pending:
            pending.pop()()
        with write() as db:
            yield db

    monkeypatch.setattr(store, "write", preceded)


def test_a_delete_committed_just_before_a_redrive_refuses_it(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine, execution = failed_execution(engine, "deleted-first")
    just_before_the_next_write(engine, monkeypatch, lambda: engine.service.delete_state_machine(machine))
    with pytest.raises(api.ExecutionNotRedrivable, match="State machine is in DELETING status"):
        engine.service.redrive_execution(execution)
    described = engine.service.describe_execution(execution)
    assert (described["status"], described["redriveCount"]) == ("FAILED", 0)
    assert redriven_events(engine, execution) == 0


def test_a_redrive_committed_just_before_another_refuses_it(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _, execution = failed_execution(engine, "redriven-first")
    engine.stop()  # nothing ends the first redrive before the second writes
    just_before_the_next_write(engine, monkeypatch, lambda: engine.service.redrive_execution(execution))
    with pytest.raises(api.ExecutionNotRedrivable, match="Execution is RUNNING and cannot be redriven"):
        engine.service.redrive_execution(execution)
    assert engine.service.describe_execution(execution)["redriveCount"] == 1
    assert len(rows(Path(engine.store.path), "SELECT 1 FROM inbox WHERE execution_arn = ?", execution)) == 1


def at_once(*actions: Callable[[], Any]) -> list[str]:
    """Run the actions together, each in a thread of its own; what each answered: "ok" or its API error."""
    answers = [""] * len(actions)
    gate = threading.Barrier(len(actions))

    def call(index: int) -> None:
        gate.wait()
        try:
            actions[index]()
            answers[index] = "ok"
        except api.ApiError as refused:
            answers[index] = str(refused)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_redrives_redrive_once(engine: Engine) -> None:
    for attempt in range(5):
        _, execution = failed_execution(engine, f"concurrent{attempt}")
        answers = at_once(*[partial(engine.service.redrive_execution, execution)] * 3)
        assert answers.count("ok") == 1, answers
        # The others saw it RUNNING, or already SUCCEEDED once the redrive had run.
        assert set(answers) - {"ok"} <= {f"Execution is {status} and cannot be redriven"
                                         for status in ("RUNNING", "SUCCEEDED")}, answers
        described = engine.wait(execution, timeout=10)
        assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
        assert redriven_events(engine, execution) == 1


def test_redrive_racing_delete_is_serialised(engine: Engine) -> None:
    path = Path(engine.store.path)
    for attempt in range(10):
        machine, execution = failed_execution(engine, f"race{attempt}")
        redrive, delete = at_once(partial(engine.service.redrive_execution, execution),
                                  partial(engine.service.delete_state_machine, machine))
        assert delete == "ok"
        described = engine.wait(execution, timeout=10)
        if redrive == "ok":
            # The delete saw it RUNNING: its machine went DELETING, and the task's answer ended it.
            assert (described["status"], described["cause"]) == ("FAILED", f"State machine race{attempt} has been deleted.")
        else:
            assert redrive == "State machine is in DELETING status"
            assert (described["status"], described["redriveCount"]) == ("FAILED", 0)
        wait_for(partial(lambda arn: rows(path, "SELECT 1 FROM state_machines WHERE arn = ?", arn) == [], machine))


def test_the_decider_continues_only_an_execution_that_ended_unsuccessfully(engine: Engine) -> None:
    _, execution = failed_execution(engine, "succeeds")
    engine.service.redrive_execution(execution)
    assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
    # A redrive queued for it all the same (as a redrive checked outside its write once could).
    with engine.store.write() as db:
        db.execute(engine.store.q["insert_inbox"], {
            "execution_arn": execution, "event": event_to_json(RedriveRequested(0)), "created_ms": 0})
    engine.service.notify()
    wait_for(lambda: rows(Path(engine.store.path), "SELECT 1 FROM inbox") == [])
    described = engine.service.describe_execution(execution)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    assert redriven_events(engine, execution) == 1


def test_an_execution_of_a_deleted_machine_stays_unredrivable_when_its_name_is_taken_again(engine: Engine) -> None:
    machine, execution = failed_execution(engine, "reborn")
    engine.service.delete_state_machine(machine)
    # A new machine of the same name has the same ARN, but it is another machine: not the one that ran it.
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    assert engine.service.create_state_machine("reborn", failing) == machine
    described = engine.service.describe_execution(execution)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "State machine is in DELETING status")
    with pytest.raises(api.ExecutionNotRedrivable, match="State machine is in DELETING status"):
        engine.service.redrive_execution(execution)
    own = engine.service.start_execution(machine, {})
    assert engine.wait(own, timeout=10)["redriveStatus"] == "REDRIVABLE"  # the new machine's own execution


def test_a_machine_created_again_in_the_same_millisecond_is_another_machine(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock stands still: the machine, its execution and the machine created again under its
    name have one creation time. Only the incarnation the execution stored tells the two machines apart."""
    stamp = service.now_ms()
    monkeypatch.setattr(service, "now_ms", lambda: stamp)
    machine, execution = failed_execution(engine, "twin")
    engine.service.delete_state_machine(machine)
    assert engine.service.create_state_machine("twin", {"StartAt": "F", "States": {"F": {"Type": "Fail"}}}) == machine
    assert rows(Path(engine.store.path), "SELECT created_ms FROM state_machines") == [(stamp,)]
    described = engine.service.describe_execution(execution)
    assert (described["startDate"], described["redriveStatus"], described["redriveStatusReason"]) == (
        engine.service.describe_state_machine(machine)["creationDate"], "NOT_REDRIVABLE",
        "State machine is in DELETING status")
    with pytest.raises(api.ExecutionNotRedrivable, match="State machine is in DELETING status"):
        engine.service.redrive_execution(execution)
    own = engine.service.start_execution(machine, {})
    assert engine.wait(own, timeout=10)["redriveStatus"] == "REDRIVABLE"  # the new machine's own execution
