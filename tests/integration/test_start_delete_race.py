"""StartExecution beside DeleteStateMachine, on a real SQLite file: the check that the machine exists (and is
not DELETING) and the insert of the execution are one transaction, so either the start comes first and the
delete waits for the execution (DELETING), or the start is refused with AWS's error; never an execution
stored for a machine already removed, nor for a machine created again under the same name (the same ARN)
with the definition of the one the start looked at."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows

from stateway.engine import Engine
from stateway.engine import errors as api
from stateway.engine.service import Service

pytestmark = pytest.mark.integration

# Waits long enough for the test: an execution that started is RUNNING when the delete looks.
WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
REFUSALS = (api.StateMachineDoesNotExist, api.StateMachineDeleting)


@pytest.fixture(params=["engine", "service alone"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """The service with an engine in the process (a start goes through its group commit), and without one
    (the CLI beside `stateway serve`: a start is a transaction of the service's own)."""
    engine = Engine(f"sqlite:///{tmp_path / 'race.db'}", poll_interval=0.05)
    if request.param == "engine":
        engine.start()
    yield engine.service
    if request.param == "engine":
        engine.stop()


def orphans(service: Service) -> list[tuple[str, str]]:
    """(execution, status) of every stored execution whose state machine is gone, though it was started
    while no delete had removed it: the delete should have waited for it."""
    return rows(Path(service.store.path), "SELECT arn, status FROM executions WHERE state_machine_arn NOT IN "
                                          "(SELECT arn FROM state_machines) AND stop_ms IS NULL")


def test_a_start_racing_a_delete_is_stored_first_or_refused(service: Service) -> None:
    outcomes: Counter[str] = Counter()
    for i in range(60):
        machine = service.create_state_machine(f"raced-{i}", WAITING)
        gate = threading.Barrier(2)
        started: list[str] = []

        def start(machine: str = machine, gate: threading.Barrier = gate, started: list[str] = started) -> None:
            gate.wait()
            try:
                # A large input widens the gap between the start's look at the machine and its insert.
                started.append(service.start_execution(machine, {"pad": "x" * 200_000}))
                outcomes["started"] += 1
            except REFUSALS as exc:
                outcomes[exc.type_name] += 1

        def delete(machine: str = machine, gate: threading.Barrier = gate) -> None:
            gate.wait()
            service.delete_state_machine(machine)

        threads = [threading.Thread(target=start), threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if started:
            # The start came first: the delete found it running and left the machine DELETING.
            assert service.describe_state_machine(machine)["status"] == "DELETING", outcomes
            assert service.describe_execution(started[0])["status"] == "RUNNING"
    assert orphans(service) == [], outcomes
    assert sum(outcomes.values()) == 60


def racing(service: Service, monkeypatch: pytest.MonkeyPatch, machine_arn: str, action: Callable[[], Any]) -> None:
    """Run `action` once, right after StartExecution has looked at the machine `machine_arn` and before it
    stores the execution: the widest form of the race, made deterministic."""
    look = service._active_machine
    done: list[bool] = []

    def looked(arn: str, *args: Any) -> Any:
        machine = look(arn, *args)
        if arn == machine_arn and not done:
            done.append(True)
            action()
        return machine

    monkeypatch.setattr(service, "_active_machine", looked)


def test_a_delete_between_the_look_and_the_insert_refuses_the_start(service: Service,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    machine = service.create_state_machine("removed", WAITING)
    racing(service, monkeypatch, machine, lambda: service.delete_state_machine(machine))
    with pytest.raises(api.StateMachineDoesNotExist) as refused:
        service.start_execution(machine, {}, name="late")
    assert refused.value.message == f"State Machine Does Not Exist: '{machine}'"
    assert rows(Path(service.store.path), "SELECT arn FROM executions") == []
    with pytest.raises(api.StateMachineDoesNotExist):
        service.describe_state_machine(machine)


def test_a_delete_that_leaves_the_machine_deleting_refuses_the_start(service: Service,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    machine = service.create_state_machine("retiring", WAITING)
    running = service.start_execution(machine, {}, name="first")
    racing(service, monkeypatch, machine, lambda: service.delete_state_machine(machine))
    with pytest.raises(api.StateMachineDeleting) as refused:
        service.start_execution(machine, {}, name="late")
    assert refused.value.message == f"State Machine is being deleted: '{machine}'"
    assert rows(Path(service.store.path), "SELECT arn FROM executions") == [(running,)]
    assert service.describe_state_machine(machine)["status"] == "DELETING"


def test_a_refused_start_does_not_fail_the_starts_written_with_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Starts are written together when they arrive together: the one refused is refused alone, and the
    engine goes on stepping the others (none of its rows is stored for the refused one)."""
    with Engine(f"sqlite:///{tmp_path / 'batch.db'}", poll_interval=0.05) as engine:
        service = engine.service
        kept = service.create_state_machine("kept", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        removed = service.create_state_machine("removed", WAITING)
        racing(service, monkeypatch, removed, lambda: service.delete_state_machine(removed))
        outcomes: dict[str, Any] = {}
        gate = threading.Barrier(9)

        def start(i: int) -> None:
            machine = removed if i == 0 else kept
            gate.wait()
            try:
                outcomes[f"e{i}"] = service.start_execution(machine, {}, name=f"e{i}")
            except REFUSALS as exc:
                outcomes[f"e{i}"] = exc.type_name

        threads = [threading.Thread(target=start, args=(i,)) for i in range(9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = [name for name, outcome in outcomes.items() if outcome == "StateMachineDoesNotExist"]
        assert len(refused) == 1, outcomes
        for name, outcome in outcomes.items():
            if name not in refused:
                assert engine.wait(outcome, timeout=20)["status"] == "SUCCEEDED"
        path = tmp_path / "batch.db"
        assert rows(path, "SELECT count(*) FROM executions") == [(8,)]
        # Nothing of the refused execution was stored: no history, task or timer rows.
        assert rows(path, "SELECT count(DISTINCT execution_arn) FROM history_chunks") == [(8,)]
        assert rows(path, "SELECT count(*) FROM timers") == [(0,)]


# What a machine created again under a removed machine's name runs: told apart from WAITING in the store.
REBORN = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "reborn", "End": True}}}


def created_again(service: Service, machine: str, *, alias: str | None = None) -> Callable[[], None]:
    """DeleteStateMachine and CreateStateMachine of the same name with another definition, publishing its
    version 1 again (and routing an alias of the same name to it): the same ARNs, another machine."""
    def action() -> None:
        name = machine.rsplit(":", 1)[1]
        service.delete_state_machine(machine)
        assert service.create_state_machine(name, REBORN, publish=True) == machine
        if alias is not None:
            service.create_state_machine_alias(alias, [{"stateMachineVersionArn": f"{machine}:1", "weight": 100}])
    return action


def after_version_look(service: Service, monkeypatch: pytest.MonkeyPatch, version_arn: str,
                       action: Callable[[], Any]) -> None:
    """Run `action` once, right after StartExecution has read the version `version_arn` it will run (the
    machine read before it) and before it stores the execution."""
    one = service.store.one
    done: list[bool] = []

    def looked(query: str, params: Any = ()) -> Any:
        row = one(query, params)
        if query == "get_version" and params.get("arn") == version_arn and not done:
            done.append(True)
            action()
        return row

    monkeypatch.setattr(service.store, "one", looked)


def stored(service: Service) -> list[tuple[str, str]]:
    return rows(Path(service.store.path), "SELECT name, definition FROM executions ORDER BY name")


def test_a_machine_created_again_between_the_look_and_the_insert_refuses_the_start(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start read the old machine's definition: it is refused as for a removed machine, not stored
    against the new machine (same ARN) with a definition that machine never had."""
    machine = service.create_state_machine("reborn", WAITING)
    racing(service, monkeypatch, machine, created_again(service, machine))
    with pytest.raises(api.StateMachineDoesNotExist) as refused:
        service.start_execution(machine, {}, name="late")
    assert refused.value.message == f"State Machine Does Not Exist: '{machine}'"
    assert stored(service) == []
    # A start that looks at the new machine runs it.
    service.start_execution(machine, {}, name="after")
    assert stored(service) == [("after", json.dumps(REBORN))]


def test_an_update_between_the_look_and_the_insert_does_not_refuse_the_start(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same machine, updated: the start is stored with the definition it read, as a start just before the
    update would be (AWS: an update does not change the executions already started)."""
    machine = service.create_state_machine("updated", WAITING)
    racing(service, monkeypatch, machine, lambda: service.update_state_machine(machine, definition=REBORN))
    service.start_execution(machine, {}, name="raced")
    assert stored(service) == [("raced", json.dumps(WAITING))]


@pytest.mark.parametrize("seam", ["after the machine's look", "after the version's look"])
def test_a_version_published_again_under_its_number_refuses_the_start(
        service: Service, monkeypatch: pytest.MonkeyPatch, seam: str) -> None:
    """A version's number is given again once its machine is created again: `reborn:1` is then another
    version. A start of the old one, at either of the looks, is refused."""
    machine = service.create_state_machine("reborn", WAITING, publish=True)
    version = f"{machine}:1"
    if seam == "after the machine's look":
        racing(service, monkeypatch, machine, created_again(service, machine))
    else:
        after_version_look(service, monkeypatch, version, created_again(service, machine))
    with pytest.raises(api.StateMachineDoesNotExist):
        service.start_execution(version, {}, name="late")
    assert stored(service) == []
    service.start_execution(version, {}, name="after")
    assert rows(Path(service.store.path), "SELECT name, version_arn, definition FROM executions") == [
        ("after", version, json.dumps(REBORN))]


def test_an_alias_routing_to_a_version_published_again_refuses_the_start(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = service.create_state_machine("reborn", WAITING, publish=True)
    alias, _ = service.create_state_machine_alias("live", [{"stateMachineVersionArn": f"{machine}:1",
                                                            "weight": 100}])
    racing(service, monkeypatch, machine, created_again(service, machine, alias="live"))
    with pytest.raises(api.StateMachineDoesNotExist):
        service.start_execution(alias, {}, name="late")
    assert stored(service) == []
    service.start_execution(alias, {}, name="after")
    assert stored(service) == [("after", json.dumps(REBORN))]


def test_a_machine_created_again_after_the_alias_look_refuses_the_start(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start read the old machine's alias (which routed to its version 1) before it read the machine: a
    machine created again in between, without that alias, is not run as if it were started through it."""
    machine = service.create_state_machine("reborn", WAITING, publish=True)
    alias, _ = service.create_state_machine_alias("live", [{"stateMachineVersionArn": f"{machine}:1",
                                                            "weight": 100}])
    one = service.store.one
    done: list[bool] = []

    def looked(query: str, params: Any = ()) -> Any:
        row = one(query, params)
        if query == "get_alias" and params.get("arn") == alias and not done:
            done.append(True)
            created_again(service, machine)()
        return row

    monkeypatch.setattr(service.store, "one", looked)
    with pytest.raises(api.StateMachineDoesNotExist):
        service.start_execution(alias, {}, name="late")
    assert rows(Path(service.store.path), "SELECT name, definition FROM executions") == []
    assert rows(Path(service.store.path), "SELECT arn FROM state_machine_aliases") == []


def after_routing_look(service: Service, monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
    """Run `action` once, right after an alias write has checked its routing (the machine read before it)
    and before its write transaction."""
    check = service._routing
    done: list[bool] = []

    def looked(*args: Any) -> Any:
        checked = check(*args)
        if not done:
            done.append(True)
            action()
        return checked

    monkeypatch.setattr(service, "_routing", looked)


def routing_of(machine: str) -> list[dict[str, Any]]:
    return [{"stateMachineVersionArn": f"{machine}:1", "weight": 100}]


@pytest.mark.parametrize("between", ["deleted", "created again"])
def test_an_alias_created_after_its_machine_was_deleted_is_refused(
        service: Service, monkeypatch: pytest.MonkeyPatch, between: str) -> None:
    """CreateStateMachineAlias checks the machine and its versions before its write transaction: a machine
    deleted (and created again, its version 1 published again) in between gets no alias the check made
    against the machine that is gone."""
    machine = service.create_state_machine("aliased", WAITING, publish=True)
    after_routing_look(service, monkeypatch, created_again(service, machine) if between == "created again"
                       else lambda: service.delete_state_machine(machine))
    with pytest.raises(api.StateMachineDoesNotExist):
        service.create_state_machine_alias("live", routing_of(machine))
    assert rows(Path(service.store.path), "SELECT arn FROM state_machine_aliases") == []


def test_an_alias_updated_after_its_machine_was_deleted_is_not_written_again(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delete removed the alias with its machine: the update finds it gone (and writes nothing)."""
    machine = service.create_state_machine("updated", WAITING, publish=True)
    alias, _ = service.create_state_machine_alias("live", routing_of(machine))
    after_routing_look(service, monkeypatch, created_again(service, machine))
    with pytest.raises(api.ResourceNotFound):
        service.update_state_machine_alias(alias, routing=routing_of(machine))
    assert rows(Path(service.store.path), "SELECT arn FROM state_machine_aliases") == []
