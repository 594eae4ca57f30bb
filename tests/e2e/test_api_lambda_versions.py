"""Versions and aliases of task functions over the API: `stateway serve --functions DIR` with a module that
registers `name:QUALIFIER` functions, driven with boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_api_core import Server, create, wait_done

pytestmark = pytest.mark.e2e

CHARGE = '''import stateway


def _seen(which, context):
    return {"which": which, "version": context.function_version, "arn": context.invoked_function_arn}


def handler(event, context):
    return _seen("charge", context)


@stateway.function("charge:prod")
def charge_prod(event, context):
    return _seen("charge:prod", context)


@stateway.function("charge:2")
def charge_two(event, context):
    return _seen("charge:2", context)
'''
ARN = "arn:aws:lambda:us-east-1:123456789012:function:charge"


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = tmp_path_factory.mktemp("serve-versions")
    functions = workdir / "functions"
    functions.mkdir()
    (functions / "charge.py").write_text(CHARGE)
    running = Server(workdir, functions).start()
    yield running.client()
    assert running.stop() == 0, running.log.read_text()


def _run(sfn: Any, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    machine = create(sfn, name, {"StartAt": "Charge", "States": {"Charge": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "charge", "Payload": {}, **parameters}, "End": True}}})
    return wait_done(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])


def test_a_qualifier_runs_its_version_or_alias_and_says_which_ran(sfn: Any) -> None:
    for name, parameters, which, version, invoked in [
            ("latest", {}, "charge", "$LATEST", ARN),
            ("alias", {"Qualifier": "prod"}, "charge:prod", "$LATEST", f"{ARN}:prod"),
            ("version", {"FunctionName": f"{ARN}:2"}, "charge:2", "2", f"{ARN}:2")]:
        described = _run(sfn, name, parameters)
        assert described["status"] == "SUCCEEDED", described
        output = json.loads(described["output"])
        assert output["ExecutedVersion"] == version
        assert output["Payload"] == {"which": which, "version": version, "arn": invoked}


def test_a_missing_alias_and_disagreeing_qualifiers_fail_as_lambda_does(sfn: Any) -> None:
    described = _run(sfn, "missing", {"Qualifier": "staging"})
    assert (described["status"], described["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert described["cause"].startswith(f"Function not found: {ARN}:staging (Service: AWSLambda; Status Code: 404")
    described = _run(sfn, "disagree", {"FunctionName": "charge:prod", "Qualifier": "2"})
    assert (described["status"], described["error"]) == ("FAILED", "Lambda.InvalidParameterValueException")
    assert described["cause"].startswith("The derived qualifier from the function name does not match the specified "
                                         "qualifier. (Service: AWSLambda; Status Code: 400;")

