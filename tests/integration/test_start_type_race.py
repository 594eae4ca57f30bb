"""StartExecution and StartSyncExecution through the API beside a machine deleted and created again under its
name with the other type, on a real SQLite file: the API reads the machine's type to choose how to start it
(durably for STANDARD, in memory for EXPRESS), and the start reads the machine again. A machine created again
as the other type between the two reads is never started as the type it does not have: the start is refused as
for the machine that is gone, as it is when the machine is created again with the same type."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows

from stateway.api.actions import StepFunctionsApi
from stateway.engine import Engine
from stateway.engine import errors as api

pytestmark = pytest.mark.integration

WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "reborn", "End": True}}}


@pytest.fixture
def sfn(tmp_path: Path) -> Iterator[StepFunctionsApi]:
    with Engine(f"sqlite:///{tmp_path / 'types.db'}", poll_interval=0.05) as engine:
        yield StepFunctionsApi(engine)


def after_the_type_look(sfn: StepFunctionsApi, monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
    """Run `action` once, right after the API has read the machine's type and before the start reads it again."""
    look = sfn._machine_type
    done: list[bool] = []

    def looked(arn: str) -> str:
        machine_type = look(arn)
        if not done:
            done.append(True)
            action()
        return machine_type

    monkeypatch.setattr(sfn, "_machine_type", looked)


def created_again(sfn: StepFunctionsApi, machine: str, machine_type: str) -> Callable[[], None]:
    def action() -> None:
        sfn.call("DeleteStateMachine", {"stateMachineArn": machine})
        assert sfn.call("CreateStateMachine", {"name": machine.rsplit(":", 1)[1], "definition": json.dumps(PASS),
                                               "type": machine_type, "roleArn": "arn:aws:iam::1:role/r"}
                        )["stateMachineArn"] == machine
    return action


def create(sfn: StepFunctionsApi, name: str, definition: dict[str, Any], machine_type: str) -> str:
    return str(sfn.call("CreateStateMachine", {"name": name, "definition": json.dumps(definition), "type": machine_type,
                                               "roleArn": "arn:aws:iam::1:role/r"})["stateMachineArn"])


def test_a_standard_machine_created_again_as_express_is_not_started_durably(
        sfn: StepFunctionsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = create(sfn, "turncoat", WAITING, "STANDARD")
    after_the_type_look(sfn, monkeypatch, created_again(sfn, machine, "EXPRESS"))
    with pytest.raises(api.StateMachineDoesNotExist) as refused:
        sfn.call("StartExecution", {"stateMachineArn": machine, "name": "late"})
    assert refused.value.message == f"State Machine Does Not Exist: '{machine}'"
    assert rows(Path(sfn.engine.store.path), "SELECT arn FROM executions") == []
    # A start that looks at the new machine runs it as what it is: in memory.
    started = sfn.call("StartExecution", {"stateMachineArn": machine, "name": "after"})["executionArn"]
    assert [record.execution_arn for record in sfn.express.executions_of(machine)] == [started]
    assert rows(Path(sfn.engine.store.path), "SELECT arn FROM executions") == []


@pytest.mark.parametrize("action", ["StartExecution", "StartSyncExecution"])
def test_an_express_machine_created_again_as_standard_is_not_run_in_memory(
        sfn: StepFunctionsApi, monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    machine = create(sfn, "turncoat", WAITING, "EXPRESS")
    after_the_type_look(sfn, monkeypatch, created_again(sfn, machine, "STANDARD"))
    with pytest.raises(api.StateMachineDoesNotExist) as refused:
        sfn.call(action, {"stateMachineArn": machine, "name": "late"})
    assert refused.value.message == f"State Machine Does Not Exist: '{machine}'"
    assert sfn.express.executions_of(machine) == []
    # A start that looks at the new machine stores it durably.
    started = sfn.call("StartExecution", {"stateMachineArn": machine, "name": "after"})["executionArn"]
    assert rows(Path(sfn.engine.store.path), "SELECT arn FROM executions") == [(started,)]
