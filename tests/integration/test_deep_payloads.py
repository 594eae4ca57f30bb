"""Data nested deeper than the store can hold fails its execution cleanly instead of quarantining it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stateway.asl import jsontext
from stateway.asl.interpreter import TOO_DEEP_CAUSE
from stateway.engine import Engine

pytestmark = pytest.mark.integration

DEPTH = jsontext.MAX_DEPTH


def nested(depth: int) -> Any:
    """`depth` arrays in one another: `[[…]]`."""
    return json.loads("[" * depth + "]" * depth)


def _pass(parameters: Any, next_state: str | None = None) -> dict[str, Any]:
    return {"Type": "Pass", "Parameters": parameters, **({"Next": next_state} if next_state else {"End": True})}


LOOP_UNTIL_STOP = {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
                   "Default": "Nest"}

CASES = {
    # The QA's cases: a template three levels over an input just within the limit; a Pass that nests its
    # input a level a visit; a Parallel whose output (an array of its branch's) does the same.
    "template": ({"StartAt": "P", "States": {"P": _pass({"a": {"b": {"c.$": "$"}}})}}, nested(DEPTH - 2), "P"),
    "pass loop": ({"StartAt": "Nest", "States": {"Nest": _pass({"a.$": "$"}, "Choose"), "Choose": LOOP_UNTIL_STOP,
                                                  "Done": {"Type": "Succeed"}}}, {}, "Nest"),
    "parallel loop": ({"StartAt": "Nest", "States": {
        "Nest": {"Type": "Parallel", "Next": "Choose", "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
        "Choose": LOOP_UNTIL_STOP, "Done": {"Type": "Succeed"}}}, {}, "Nest"),
    "assign": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "Assign": {"v": {"a": {"b.$": "$"}}},
                                                 "End": True}}}, nested(DEPTH - 1), "P"),
    # A token task's answer (a Python function's own result fails it with Runtime.MarshalError first).
    "task result": ({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
        "Parameters": {"FunctionName": "answer", "Payload": {"token.$": "$$.Task.Token"}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}, "Caught": {"Type": "Succeed"}}},
        {}, "T"),
    # A token task's submission: the function's result (within the limit) under the invoke response's
    # Payload nests a level deeper, in the TaskSubmitted event.
    "task submitted": ({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
        "Parameters": {"FunctionName": "deep", "Payload": {"token.$": "$$.Task.Token"}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}, "Caught": {"Type": "Succeed"}}},
        {}, "T"),
    "first input": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, nested(DEPTH + 1), None),
}


def _functions(engines: list[Engine]) -> dict[str, Any]:
    def answer(event: Any, context: Any) -> None:
        engines[0].service.send_task_success(event["token"], json.dumps(nested(DEPTH + 1)))

    def deep(event: Any, context: Any) -> Any:
        return ("[" * DEPTH + "]" * DEPTH).encode()  # bytes go as they are: no marshalling depth

    return {"answer": answer, "deep": deep}


@pytest.mark.parametrize("case", CASES)
def test_data_nested_too_deep_fails_the_execution_and_a_restart_finds_it_failed(tmp_path: Path, case: str) -> None:
    definition, value, state = CASES[case]
    db = f"sqlite:///{tmp_path / 'e.db'}"
    engines: list[Engine] = []
    with Engine(db, functions=_functions(engines)) as engine:
        engines.append(engine)
        arn = engine.service.start_execution(engine.service.create_state_machine("m", definition), value)
        described = engine.wait(arn, timeout=30)
        history = engine.service.get_execution_history(arn)
        assert engine.health()["status"] == "ok"
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime" and described["cause"].endswith(TOO_DEEP_CAUSE)
    if state is not None:
        assert described["cause"].startswith(f"An error occurred while executing the state '{state}'")
    assert history[-1]["type"] == "ExecutionFailed"
    with Engine(db) as engine:
        assert engine.health()["status"] == "ok"
        assert engine.service.describe_execution(arn)["status"] == "FAILED"


def test_data_at_the_limit_runs_and_survives_a_restart(tmp_path: Path) -> None:
    # The deepest data allowed goes everywhere the store puts it: a join's results, a task's row and the
    # snapshot, read back by an engine started anew while the task waits for its token.
    definition = {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "Wait", "ResultSelector": {"v.$": "$[0]"}, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
        "Wait": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
                 "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}},
                 "ResultPath": "$.answer"}}}
    db = f"sqlite:///{tmp_path / 'e.db'}"
    tokens: list[str] = []
    with Engine(db, functions={"f": lambda event, context: tokens.append(event["token"])}) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", definition),
                                             nested(DEPTH - 1))
        engine.wait(arn, timeout=1)
    assert tokens
    with Engine(db) as engine:
        engine.service.send_task_success(tokens[0], "{}")
        described = engine.wait(arn, timeout=30)
        assert engine.health()["status"] == "ok"
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"v": nested(DEPTH - 1), "answer": {}}
