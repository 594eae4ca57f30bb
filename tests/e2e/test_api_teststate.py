"""TestState over the API with boto3: one state run in isolation, with mocks, inspection data,
Retry/Catch outcomes, `stateName` in a whole machine, local functions, and AWS's validation errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import test_api_core as core
from test_api_core import error_of, lambda_arn

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/teststate"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[core.Server]:
    workdir = tmp_path_factory.mktemp("teststate")
    running = core.Server(workdir, core.write_functions(workdir / "functions")).start()
    yield running
    assert running.stop() == 0, running.log.read_text()


@pytest.fixture(scope="module")
def sfn(server: core.Server) -> Any:
    return server.client()


def run(sfn: Any, definition: dict[str, Any], data: Any, **kwargs: Any) -> dict[str, Any]:
    return sfn.test_state(definition=json.dumps(definition), input=json.dumps(data), roleArn=ROLE, **kwargs)  # type: ignore[no-any-return]


def test_pass_state_reports_each_step_of_the_data_flow(sfn: Any) -> None:
    definition = {"Type": "Pass", "InputPath": "$.data", "Parameters": {"v.$": "$.value", "k": 1},
                  "ResultPath": "$.out", "Next": "After"}
    answer = run(sfn, definition, {"data": {"value": 7}}, inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == "After"
    assert json.loads(answer["output"]) == {"data": {"value": 7}, "out": {"v": 7, "k": 1}}
    data = {key: json.loads(value) for key, value in answer["inspectionData"].items()}
    assert data["afterInputPath"] == {"value": 7}
    assert data["afterParameters"] == {"v": 7, "k": 1}
    assert data["afterResultPath"] == {"data": {"value": 7}, "out": {"v": 7, "k": 1}}


def test_info_level_has_no_inspection_data(sfn: Any) -> None:
    answer = run(sfn, {"Type": "Succeed"}, {"a": 1}, inspectionLevel="INFO")
    assert "inspectionData" not in answer
    assert json.loads(answer["output"]) == {"a": 1}


def test_choice_and_fail(sfn: Any) -> None:
    choice = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"}],
              "Default": "Small"}
    assert run(sfn, choice, {"n": 9})["nextState"] == "Big"
    assert run(sfn, choice, {"n": 1})["nextState"] == "Small"
    failed = run(sfn, {"Type": "Fail", "Error": "Nope", "Cause": "because"}, {})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Nope", "because")


def test_task_with_a_mocked_result_and_jsonata(sfn: Any) -> None:
    definition = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "f", "Payload": "{% $states.input.x %}"},
                  "Output": "{% $states.result.Payload %}", "End": True}
    answer = run(sfn, definition, {"x": 3}, inspectionLevel="TRACE",
                 mock={"result": json.dumps({"Payload": {"y": 4}, "StatusCode": 200})})
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"y": 4}
    assert json.loads(answer["inspectionData"]["afterArguments"]) == {"FunctionName": "f", "Payload": 3}


def test_task_runs_a_local_function_when_not_mocked(sfn: Any) -> None:
    answer = run(sfn, {"Type": "Task", "Resource": lambda_arn("double"), "End": True}, {"value": 21},
                 inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"value": 42}
    assert json.loads(answer["inspectionData"]["result"]) == {"value": 42}


def test_retry_and_catch_outcomes(sfn: Any) -> None:
    definition = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "f"},
                  "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 2}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handle"}],
                  "End": True}
    mock = {"errorOutput": {"error": "Flaky", "cause": "try again"}}
    retried = run(sfn, definition, {}, inspectionLevel="DEBUG", mock=mock)
    assert retried["status"] == "RETRIABLE"
    assert retried["inspectionData"]["errorDetails"] == {"retryBackoffIntervalSeconds": 2, "retryIndex": 0}
    caught = run(sfn, definition, {}, inspectionLevel="DEBUG", mock=mock,
                 stateConfiguration={"retrierRetryCount": 2})
    assert caught["status"] == "CAUGHT_ERROR"
    assert caught["nextState"] == "Handle"
    assert json.loads(caught["output"]) == {"err": {"Error": "Flaky", "Cause": "try again"}}
    assert caught["inspectionData"]["errorDetails"] == {"retryIndex": 0, "catchIndex": 0}


def test_state_name_in_a_whole_machine_with_variables(sfn: Any) -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Output": "{% $greeting & ' ' & $states.input.name %}", "End": True}}}
    answer = run(sfn, definition, {"name": "Ada"}, stateName="B", variables=json.dumps({"greeting": "hi"}))
    assert json.loads(answer["output"]) == "hi Ada"


def test_parallel_and_map_need_a_mock(sfn: Any) -> None:
    parallel = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}]}
    code, message, _ = error_of(sfn.test_state, definition=json.dumps(parallel), roleArn=ROLE)
    assert code == "InvalidDefinition" and "does not support Map or Parallel" in message
    answer = run(sfn, parallel, {}, mock={"result": "[1]"})
    assert json.loads(answer["output"]) == [1]
    code, message, _ = error_of(sfn.test_state, definition=json.dumps(parallel), mock={"result": "[1, 2]"})
    assert code == "ValidationException"
    assert message == "Mocked result must contain the same number of items as number of Parallel branches."


def test_validation_errors(sfn: Any) -> None:
    code, message, _ = error_of(sfn.test_state, definition=json.dumps({"Type": "Pass", "End": True}),
                                mock={"result": "{}"})
    assert (code, message) == ("ValidationException", "State type 'Pass' is not supported when a mock is specified")
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    code, message, _ = error_of(sfn.test_state, definition=json.dumps(task), mock={"result": "not json"})
    assert (code, message) == ("ValidationException", "Mocked result must be valid JSON")
    code, message, _ = error_of(sfn.test_state, definition=json.dumps({"Type": "Nope"}))
    assert code == "InvalidDefinition" and "/States/StateName/Type" in message


def test_mock_result_is_checked_against_the_api_shape(sfn: Any) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    code, message, _ = error_of(sfn.test_state, definition=json.dumps(task),
                                mock={"result": json.dumps({"StatusCode": "200"})})
    assert (code, message) == ("ValidationException",
                               "Mock result schema validation error: Field 'StatusCode' must be a number")
    answer = sfn.test_state(definition=json.dumps(task), mock={"result": json.dumps({"StatusCode": "200"}),
                                                               "fieldValidationMode": "NONE"})
    assert json.loads(answer["output"]) == {"StatusCode": "200"}


_TASK = json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                    "Parameters": {"FunctionName": "f"}, "Retry": [{"ErrorEquals": ["States.ALL"]}]})
_PASS = json.dumps({"Type": "Pass", "End": True})


@pytest.mark.parametrize(("body", "status", "answer"), [
    ({"definition": _PASS, "mock": {"errorOutput": "x"}}, 400,
     {"__type": "SerializationException", "message": "Unexpected value for 'mock.errorOutput': expected structure"}),
    ({"definition": _TASK, "mock": {"result": {"a": 1}}}, 400,
     {"__type": "SerializationException", "message": "Unexpected value for 'mock.result': expected string"}),
    ({"definition": _TASK, "mock": {"errorOutput": {"error": 1}}}, 400,
     {"__type": "SerializationException", "message": "Unexpected value for 'mock.errorOutput.error': expected string"}),
    ({"definition": _TASK, "mock": {"errorOutput": {"error": "E", "cause": "c"}},
      "stateConfiguration": {"retrierRetryCount": "x"}}, 400,
     {"__type": "SerializationException",
      "message": "Unexpected value for 'stateConfiguration.retrierRetryCount': expected integer"}),
    # TestStateConfiguration's and MockInput's constraints (API reference): counts of at least 0 and 32 bits,
    # a state name of 1-80 characters, a mode of the enum.
    ({"definition": _TASK, "mock": {"errorOutput": {"error": "E", "cause": "c"}},
      "stateConfiguration": {"retrierRetryCount": -1}}, 400,
     {"__type": "ValidationException", "message": "1 validation error detected: Value '-1' at "
      "'stateConfiguration.retrierRetryCount' failed to satisfy constraint: Member must have value greater than "
      "or equal to 0"}),
    ({"definition": _TASK, "mock": {"errorOutput": {"error": "E", "cause": "c"}},
      "stateConfiguration": {"retrierRetryCount": 2**31}}, 400,
     {"__type": "SerializationException", "message": "Unexpected value for 'stateConfiguration.retrierRetryCount': "
                                                     "2147483648 does not fit a 32-bit integer"}),
    ({"definition": _TASK, "mock": {"result": "{}", "fieldValidationMode": "LOOSE"},
      "stateConfiguration": {"mapIterationFailureCount": -1, "errorCausedByState": ""}}, 400,
     {"__type": "ValidationException", "message": "3 validation errors detected: Value 'LOOSE' at "
      "'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, "
      "PRESENT, NONE]; Value '-1' at 'stateConfiguration.mapIterationFailureCount' failed to satisfy constraint: "
      "Member must have value greater than or equal to 0; Value '' at 'stateConfiguration.errorCausedByState' "
      "failed to satisfy constraint: Member must have length greater than or equal to 1"}),
    ({"definition": _PASS, "variables": "[1]"}, 400,
     {"__type": "ValidationException", "message": "1 validation error detected: Value at 'variables' failed to "
                                                  "satisfy constraint: Member must be a JSON object"}),
])
def test_members_of_the_wrong_type_are_refused_not_a_500(server: core.Server, body: dict[str, Any], status: int,
                                                         answer: dict[str, Any]) -> None:
    assert core._raw(server, "AWSStepFunctions.TestState", json.dumps(body).encode()) == (status, answer)
