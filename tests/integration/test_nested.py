"""`states:startExecution` in AWS's shapes: the child's input, the `.sync` result and the causes of a failed start."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.engine import Engine

pytestmark = pytest.mark.integration

PASS_CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}}}
FAIL_CHILD = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SomeFailure", "Cause": "why"}}}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", poll_interval=0.05) as engine:
        yield engine


def parent(engine: Engine, resource: str, parameters: dict[str, Any]) -> str:
    return engine.service.create_state_machine(f"parent{len(engine.service.list_state_machines())}", {
        "StartAt": "Start", "States": {"Start": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                                 "End": True}}})


def run(engine: Engine, machine: str, input: Any) -> dict[str, Any]:
    return engine.wait(engine.service.start_execution(machine, input), timeout=30)


# ---- the child's input -------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["sync", "sync:2"])
@pytest.mark.parametrize("given", [{"Input": None}, {}], ids=["null", "absent"])
def test_a_null_or_absent_input_starts_the_child_with_an_empty_object(
        engine: Engine, pattern: str, given: dict[str, Any]) -> None:
    child = engine.service.create_state_machine("child", PASS_CHILD)
    machine = parent(engine, f"arn:aws:states:::states:startExecution.{pattern}",
                     {"StateMachineArn.$": "$.StateMachineArn", "Name": "TestStartTarget",
                      **({"Input.$": "$.Input"} if given else {})})
    desc = run(engine, machine, {"StateMachineArn": child, **given})
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["Input"] == ("{}" if pattern == "sync" else {})
    assert engine.service.describe_execution(output["ExecutionArn"])["input"] == "{}"


def test_a_string_input_is_the_childs_input_text(engine: Engine) -> None:
    child = engine.service.create_state_machine("child", PASS_CHILD)
    machine = parent(engine, "arn:aws:states:::states:startExecution.sync",
                     {"StateMachineArn": child, "Input.$": "$.Input"})
    desc = run(engine, machine, {"Input": '"InputFromTrustedAccount"'})
    assert json.loads(desc["output"])["Input"] == '"InputFromTrustedAccount"'


# ---- the `.sync` result --------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["sync", "sync:2"])
def test_a_succeeded_child_answers_with_describe_executions_fields(engine: Engine, pattern: str) -> None:
    child = engine.service.create_state_machine("child", PASS_CHILD)
    machine = parent(engine, f"arn:aws:states:::states:startExecution.{pattern}",
                     {"StateMachineArn": child, "Input": None, "Name": "TestStartTarget"})
    desc = run(engine, machine, {})
    output = json.loads(desc["output"])
    assert set(output) == {"ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails",
                           "RedriveCount", "RedriveStatus", "RedriveStatusReason", "StartDate",
                           "StateMachineArn", "Status", "StopDate"}
    assert (output["RedriveCount"], output["RedriveStatus"], output["RedriveStatusReason"]) == (
        0, "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven")
    assert output["Output"] == ('{"Arg1":"argument1"}' if pattern == "sync" else {"Arg1": "argument1"})


def test_a_failed_child_is_redrivable_in_the_cause(engine: Engine) -> None:
    child = engine.service.create_state_machine("child", FAIL_CHILD)
    machine = parent(engine, "arn:aws:states:::states:startExecution.sync", {"StateMachineArn": child})
    desc = run(engine, machine, {})
    assert desc["error"] == "States.TaskFailed"
    cause = json.loads(desc["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "SomeFailure", "why")
    assert (cause["RedriveCount"], cause["RedriveStatus"]) == (0, "REDRIVABLE")
    assert "RedriveStatusReason" not in cause


# ---- a start that fails ------------------------------------------------------------------------


def sdk_suffix(code: str) -> str:
    return (rf" \(Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; "
            r"Request ID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}; Proxy: null\)")


def test_a_missing_state_machine_fails_with_the_sdks_cause(engine: Engine) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    machine = parent(engine, "arn:aws:states:::states:startExecution", {"StateMachineArn": missing})
    desc = run(engine, machine, {})
    assert desc["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert re.fullmatch(re.escape(f"State Machine Does Not Exist: '{missing}'") + sdk_suffix("StateMachineDoesNotExist"),
                        desc["cause"]), desc["cause"]


@pytest.mark.parametrize(("parameters", "code", "message"), [
    ({"Input": "not json"}, "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Unrecognized token"),
    ({"Name": "has space"}, "InvalidName", "Invalid Name: 'has space'"),
    ({"Name": "taken", "Input": {"other": True}}, "ExecutionAlreadyExists", "Execution Already Exists: '"),
], ids=["InvalidExecutionInput", "InvalidName", "ExecutionAlreadyExists"])
def test_every_service_error_of_the_start_has_the_sdks_cause(
        engine: Engine, parameters: dict[str, Any], code: str, message: str) -> None:
    child = engine.service.create_state_machine("child", PASS_CHILD)
    assert engine.wait(engine.service.start_execution(child, {}, name="taken"))["status"] == "SUCCEEDED"
    machine = parent(engine, "arn:aws:states:::states:startExecution.sync", {"StateMachineArn": child, **parameters})
    desc = run(engine, machine, {})
    assert desc["error"] == f"StepFunctions.{code}Exception"
    assert desc["cause"].startswith(message), desc["cause"]
    assert re.search(sdk_suffix(code) + "$", desc["cause"]), desc["cause"]


def test_an_arn_of_another_kind_fails_as_invalid(engine: Engine) -> None:
    activity = "arn:aws:states:us-east-1:123456789012:activity:nope"
    machine = parent(engine, "arn:aws:states:::states:startExecution", {"StateMachineArn": activity})
    desc = run(engine, machine, {})
    assert desc["error"] == "StepFunctions.InvalidArnException"
    assert re.fullmatch(re.escape(f"Invalid Arn: '{activity}'") + sdk_suffix("InvalidArn"), desc["cause"]), desc["cause"]
