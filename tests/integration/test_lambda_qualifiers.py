"""Versions and aliases of task functions on the durable engine: `Qualifier`, qualified `FunctionName`s and
Lambda resource ARNs, `ExecutedVersion` and the context's `invoked_function_arn`."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, wait_for

import stateway
from stateway.engine import Engine
from stateway.testing.local import LocalRunner
from stateway.workers.registry import registered

pytestmark = pytest.mark.integration

ARN = "arn:aws:lambda:us-east-1:123456789012:function:charge"
_machines = itertools.count()


def _handler(which: str, calls: list[str] | None = None) -> Callable[[Any, Any], Any]:
    """A handler that says which registration ran and what its context held."""

    def handler(event: Any, context: Any) -> Any:
        if calls is not None:
            calls.append(which)
        return {"which": which, "name": context.function_name, "version": context.function_version,
                "arn": context.invoked_function_arn}

    return handler


def _functions(calls: list[str] | None = None) -> dict[str, Callable[[Any, Any], Any]]:
    return {name: _handler(name, calls) for name in ("charge", "charge:prod", "charge:3")}


def _invoke(function_name: str, **parameters: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_name, "Payload": {}, **parameters}, "End": True}}}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions=_functions(), poll_interval=0.05) as running:
        yield running


def _run(engine: Engine, definition: dict[str, Any]) -> dict[str, Any]:
    """Start `definition` as a machine of its own and wait for the execution's end."""
    machine = engine.service.create_state_machine(f"m{next(_machines)}", definition)
    return engine.wait(engine.service.start_execution(machine, {}), timeout=20)


@pytest.mark.parametrize(("function_name", "parameters", "which", "version", "invoked"), [
    ("charge", {}, "charge", "$LATEST", ARN),
    ("charge:$LATEST", {}, "charge", "$LATEST", f"{ARN}:$LATEST"),
    ("charge", {"Qualifier": "$LATEST"}, "charge", "$LATEST", f"{ARN}:$LATEST"),
    ("charge:prod", {}, "charge:prod", "$LATEST", f"{ARN}:prod"),
    ("charge", {"Qualifier": "prod"}, "charge:prod", "$LATEST", f"{ARN}:prod"),
    ("charge:prod", {"Qualifier": "prod"}, "charge:prod", "$LATEST", f"{ARN}:prod"),
    ("charge:3", {}, "charge:3", "3", f"{ARN}:3"),
    ("charge", {"Qualifier": 3}, "charge:3", "3", f"{ARN}:3"),  # a number is read as its text
    ("123456789012:function:charge:3", {}, "charge:3", "3", f"{ARN}:3"),
    ("arn:aws:lambda:eu-west-1:111111111111:function:charge", {"Qualifier": "prod"}, "charge:prod", "$LATEST",
     "arn:aws:lambda:eu-west-1:111111111111:function:charge:prod"),
])
def test_a_qualifier_runs_the_function_registered_under_it(engine: Engine, function_name: str,
                                                           parameters: dict[str, Any], which: str, version: str,
                                                           invoked: str) -> None:
    described = _run(engine, _invoke(function_name, **parameters))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["Payload"] == {"which": which, "name": "charge", "version": version, "arn": invoked}
    assert output["ExecutedVersion"] == version
    headers = output["SdkHttpMetadata"]
    assert headers["HttpHeaders"]["X-Amz-Executed-Version"] == version
    assert headers["AllHttpHeaders"]["X-Amz-Executed-Version"] == [version]


def test_the_log_tail_names_the_version_that_ran(engine: Engine) -> None:
    output = json.loads(_run(engine, _invoke("charge:3", LogType="Tail"))["output"])
    assert "Version: 3\n" in base64.b64decode(output["LogResult"]).decode()


@pytest.mark.parametrize(("function_name", "parameters", "missing"), [
    ("charge:staging", {}, f"{ARN}:staging"),
    ("charge", {"Qualifier": "7"}, f"{ARN}:7"),
    (f"{ARN}:beta", {}, f"{ARN}:beta"),
    ("charge", {"Qualifier": "beta", "InvocationType": "Event"}, f"{ARN}:beta"),
    ("charge", {"Qualifier": "beta", "InvocationType": "DryRun"}, f"{ARN}:beta"),
])
def test_a_qualifier_with_no_function_behind_it_fails_the_task_as_lambda_does(
        tmp_path: Path, function_name: str, parameters: dict[str, Any], missing: str) -> None:
    calls: list[str] = []
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions=_functions(calls), poll_interval=0.05) as engine:
        described = _run(engine, _invoke(function_name, **parameters))
        assert (described["status"], described["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
        assert described["cause"].startswith(f"Function not found: {missing} (Service: AWSLambda; Status Code: 404; "
                                             "Error Code: ResourceNotFoundException; Request ID: "), described
        assert described["cause"].endswith("; Proxy: null)")
    assert calls == []  # the unqualified function is not run in its place


def test_qualifiers_that_disagree_fail_the_task_as_lambda_does(tmp_path: Path) -> None:
    calls: list[str] = []
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions=_functions(calls), poll_interval=0.05) as engine:
        for function_name, qualifier in [("charge:prod", "3"), ("charge:$LATEST", "prod"), (f"{ARN}:3", "$LATEST")]:
            described = _run(engine, _invoke(function_name, Qualifier=qualifier))
            assert (described["status"], described["error"]) == ("FAILED", "Lambda.InvalidParameterValueException")
            assert described["cause"].startswith(
                "The derived qualifier from the function name does not match the specified qualifier. (Service: "
                "AWSLambda; Status Code: 400; Error Code: InvalidParameterValueException; Request ID: "), described
    assert calls == []


def test_a_qualifier_lambda_refuses_is_a_validation_error(tmp_path: Path) -> None:
    calls: list[str] = []
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions=_functions(calls), poll_interval=0.05) as engine:
        described = _run(engine, _invoke("charge", Qualifier="v.1"))
        assert (described["status"], described["error"]) == ("FAILED", "Lambda.AWSLambdaException")
        assert described["cause"].startswith(
            "1 validation error detected: Value 'v.1' at 'qualifier' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+) (Service: AWSLambda; Status Code: 400; "
            "Error Code: ValidationException; Request ID: "), described
        described = _run(engine, _invoke("charge", Qualifier={"alias": "prod"}))
        assert described["error"] == "Lambda.AWSLambdaException"
        assert "Value '{\"alias\":\"prod\"}' at 'qualifier' failed to satisfy constraint" in described["cause"]
        described = _run(engine, _invoke("charge", Qualifier=""))
        assert "Value '' at 'qualifier' failed to satisfy constraint: Member must have length greater than or " \
               "equal to 1" in described["cause"]
        described = _run(engine, _invoke("charge", Qualifier="x" * 129, InvocationType="Async"))
        assert described["cause"].startswith("2 validation errors detected: "), described
    assert calls == []


def test_a_lambda_resource_arn_runs_the_version_or_alias_it_names(engine: Engine) -> None:
    for qualifier, which, version in [("", "charge", "$LATEST"), (":prod", "charge:prod", "$LATEST"),
                                      (":3", "charge:3", "3")]:
        described = _run(engine, {"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": f"{ARN}{qualifier}", "End": True}}})
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"which": which, "name": "charge", "version": version,
                                                   "arn": f"{ARN}{qualifier}"}
    described = _run(engine, {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": f"{ARN}:9", "End": True}}})
    assert (described["status"], described["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert described["cause"].startswith(f"Function not found: {ARN}:9 ")


def test_an_event_invocation_of_an_alias_is_stored_by_its_arn_and_runs_the_alias(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    contexts: list[Any] = []

    def record(event: Any, context: Any) -> None:
        contexts.append((context.function_name, context.function_version, context.invoked_function_arn))

    functions = {"charge": lambda event, context: contexts.append("the unqualified function"), "charge:prod": record}
    with Engine(f"sqlite:///{db}", functions=functions, poll_interval=0.05) as engine:
        described = _run(engine, _invoke("charge", Qualifier="prod", InvocationType="Event"))
        assert described["status"] == "SUCCEEDED"
        assert "ExecutedVersion" not in json.loads(described["output"])
        wait_for(lambda: contexts)
        wait_for(lambda: not rows(db, "SELECT 1 FROM async_invocations"))
    assert contexts == [("charge", "$LATEST", f"{ARN}:prod")]


def test_an_event_invocation_stored_by_name_runs_after_a_restart(tmp_path: Path) -> None:
    """An invocation stored before invocations were stored by ARN (its row holds the bare name) still runs."""
    db = tmp_path / "e.db"
    contexts: list[Any] = []
    with Engine(f"sqlite:///{db}", functions={}) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", {"StartAt": "P", "States": {
            "P": {"Type": "Pass", "End": True}}}), {})
        engine.wait(arn, timeout=10)
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO async_invocations (execution_arn, task_id, function_name, payload, request_id, "
                     "idempotency_key, due_ms) VALUES (?, 't1', 'charge', '{}', 'r-1', 'k-1', 0)", (arn,))

    def record(event: Any, context: Any) -> None:
        contexts.append((context.aws_request_id, context.invoked_function_arn))

    with Engine(f"sqlite:///{db}", functions={"charge": record}, poll_interval=0.05):
        wait_for(lambda: not rows(db, "SELECT 1 FROM async_invocations"))
    assert contexts == [("r-1", ARN)]


def test_the_in_memory_runner_runs_versions_and_aliases_too() -> None:
    result = LocalRunner(_functions()).run(_invoke("charge", Qualifier="3"), {})
    assert result.status == "SUCCEEDED", result
    output = json.loads(result.output or "null")
    assert output["Payload"]["which"] == "charge:3" and output["ExecutedVersion"] == "3"


def test_the_decorator_registers_a_version_or_alias_of_a_function(tmp_path: Path) -> None:
    @stateway.function("refund")
    def refund(event: Any, context: Any) -> Any:
        return {"which": "refund", "arn": context.invoked_function_arn}

    @stateway.function("refund:prod")
    def refund_prod(event: Any, context: Any) -> Any:
        return {"which": "refund:prod", "arn": context.invoked_function_arn}

    @stateway.function("refund:$LATEST")  # $LATEST is the function itself
    def refund_latest(event: Any, context: Any) -> Any:
        return {"which": "refund:$LATEST"}

    assert registered()["refund"] is refund_latest and registered()["refund:prod"] is refund_prod
    assert "refund:$LATEST" not in registered()
    for bad in ["refund:v.1", "refund:prod:extra", "arn:aws:lambda:us-east-1:123456789012:function:refund:1"]:
        with pytest.raises(ValueError, match="is no function name: use NAME, or NAME:QUALIFIER"):
            stateway.function(bad)(refund)
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        described = _run(engine, _invoke("refund:prod"))
    assert json.loads(described["output"])["Payload"] == {
        "which": "refund:prod", "arn": "arn:aws:lambda:us-east-1:123456789012:function:refund:prod"}


def test_an_event_invocation_whose_arn_is_longer_than_its_name_may_be_runs(tmp_path: Path) -> None:
    name = "n" * 250  # a FunctionName Lambda's pattern and length allow; its ARN is longer than 256
    db = tmp_path / "e.db"
    contexts: list[str] = []
    with Engine(f"sqlite:///{db}", functions={name: lambda event, context: contexts.append(
            context.invoked_function_arn)}, poll_interval=0.05) as engine:
        assert _run(engine, _invoke(name, InvocationType="Event"))["status"] == "SUCCEEDED"
        wait_for(lambda: contexts)
        wait_for(lambda: not rows(db, "SELECT 1 FROM async_invocations"))
    assert contexts == [f"arn:aws:lambda:us-east-1:123456789012:function:{name}"]


def test_the_functions_mapping_reads_its_keys_as_the_decorator_reads_names(tmp_path: Path) -> None:
    """`functions={"NAME:$LATEST": …}` is NAME itself, as `@stateway.function("NAME:$LATEST")` is; a key of
    another form is refused where it is given, by the engine and the in-memory runner alike, instead of
    being kept under a name no task can reach."""
    calls: list[str] = []
    functions = {"pay:$LATEST": _handler("pay:$LATEST", calls), "pay:prod": _handler("pay:prod", calls)}
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions=functions, poll_interval=0.05) as engine:
        assert "pay:$LATEST" not in engine.functions
        for function_name in ["pay", "pay:$LATEST", "pay:prod"]:
            described = _run(engine, _invoke(function_name))
            assert described["status"] == "SUCCEEDED", described
    assert calls == ["pay:$LATEST", "pay:$LATEST", "pay:prod"]
    runner = LocalRunner(functions)
    assert "pay:$LATEST" not in runner.functions and "pay" in runner.functions
    for bad in ["pay:v.1", "pay:prod:extra", "arn:aws:lambda:us-east-1:123456789012:function:pay"]:
        with pytest.raises(ValueError, match="is no function name: use NAME, or NAME:QUALIFIER"):
            Engine(f"sqlite:///{tmp_path / 'bad.db'}", functions={bad: _handler(bad)})
        assert not (tmp_path / "bad.db").exists()
        with pytest.raises(ValueError, match="is no function name"):
            LocalRunner({bad: _handler(bad)})


def test_an_alias_that_points_at_a_version_reports_that_version(tmp_path: Path) -> None:
    """`@stateway.function("NAME:N", aliases=[…])`: invoking an alias runs the version it points at, with its
    timeout, and reports that version as Lambda reports the version an alias resolved to — `ExecutedVersion`,
    its header, the log tail and `context.function_version` — while `invoked_function_arn` names the alias."""
    settle_arn = "arn:aws:lambda:us-east-1:123456789012:function:settle"
    calls: list[tuple[str, str]] = []

    @stateway.function("settle:4", aliases=["live", "canary"], timeout=0.5)
    def settle_4(event: Any, context: Any) -> Any:
        calls.append((context.function_version, context.invoked_function_arn))
        if event.get("hang"):
            time.sleep(2)
        return {"version": context.function_version, "arn": context.invoked_function_arn}

    @stateway.function("settle", aliases="beta")  # an alias of $LATEST
    def settle(event: Any, context: Any) -> Any:
        return {"version": context.function_version, "arn": context.invoked_function_arn}

    with Engine(f"sqlite:///{tmp_path / 'e.db'}", poll_interval=0.05) as engine:
        for function_name, parameters, version, invoked in [
                ("settle:live", {}, "4", f"{settle_arn}:live"),
                ("settle", {"Qualifier": "canary", "LogType": "Tail"}, "4", f"{settle_arn}:canary"),
                ("settle:4", {}, "4", f"{settle_arn}:4"),
                ("settle:beta", {}, "$LATEST", f"{settle_arn}:beta")]:
            described = _run(engine, _invoke(function_name, **parameters))
            assert described["status"] == "SUCCEEDED", described
            output = json.loads(described["output"])
            assert output["Payload"] == {"version": version, "arn": invoked}
            assert output["ExecutedVersion"] == version
            assert output["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Executed-Version"] == version
            if "LogType" in parameters:
                assert f"Version: {version}\n" in base64.b64decode(output["LogResult"]).decode()
        # A Lambda resource ARN, and an Event invocation, through the alias.
        described = _run(engine, {"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": f"{settle_arn}:live", "End": True}}})
        assert json.loads(described["output"]) == {"version": "4", "arn": f"{settle_arn}:live"}
        calls.clear()
        assert _run(engine, _invoke("settle:live", InvocationType="Event"))["status"] == "SUCCEEDED"
        wait_for(lambda: calls)
        assert calls == [("4", f"{settle_arn}:live")]
        # The alias runs with its version's timeout.
        described = _run(engine, {"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": f"{settle_arn}:live", "Parameters": {"hang": True}, "End": True}}})
        assert (described["status"], described["error"]) == ("FAILED", "Sandbox.Timedout")
    result = LocalRunner(registered()).run(_invoke("settle:canary"), {})
    assert json.loads(result.output or "null")["ExecutedVersion"] == "4"


def test_aliases_point_at_a_version_and_are_named_as_aliases() -> None:
    def handler(event: Any, context: Any) -> Any:
        return event

    for name, aliases, problem in [
            ("void:live", ["beta"], "'void:live' is an alias: aliases point at a version"),
            ("void:2", ["3"], "alias '3' of 'void' is a version"),
            ("void:2", ["$LATEST"], "alias '\\$LATEST' of 'void' is a version"),
            ("void:2", ["a.b"], "is no function name")]:
        with pytest.raises(ValueError, match=problem):
            stateway.function(name, aliases=aliases)(handler)
    with pytest.raises(TypeError, match="an alias is a str"):
        stateway.function("void:2", aliases=[2])(handler)  # type: ignore[list-item]
    assert not [name for name in registered() if name.startswith("void")]  # nothing of a refused registration
