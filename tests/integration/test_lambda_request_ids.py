"""lambda:invoke on the durable engine: one request id per invocation, in the handler's context, the
response's headers and metadata and its log tail, as on Lambda."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration


def _invoke(**parameters: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "record", **parameters}}


def _ids(response: dict[str, Any]) -> set[str]:
    """Every request id a lambda:invoke result shows."""
    headers = response["SdkHttpMetadata"]
    return {headers["AllHttpHeaders"]["x-amzn-RequestId"][0], headers["HttpHeaders"]["x-amzn-RequestId"],
            response["SdkResponseMetadata"]["RequestId"]}


class Recorder:
    """The `record` function: the request id of each call, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.ran = threading.Event()

    def __call__(self, event: Any, context: Any) -> dict[str, str]:
        self.seen.append(context.aws_request_id)
        self.ran.set()
        return {"ran": context.aws_request_id}


@pytest.fixture
def record() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(tmp_path: Path, record: Recorder) -> Iterator[Engine]:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={"record": record}, poll_interval=0.05) as engine:
        yield engine


def _start(engine: Engine, definition: dict[str, Any]) -> str:
    return engine.service.start_execution(engine.service.create_state_machine("m", definition), {})


def test_a_request_response_invocation_answers_under_the_request_id_its_handler_ran_with(
        engine: Engine, record: Recorder) -> None:
    definition = {"StartAt": "One", "States": {
        "One": {**_invoke(LogType="Tail"), "ResultPath": "$.one", "Next": "Two"},
        "Two": {**_invoke(), "ResultPath": "$.two", "End": True}}}
    described = engine.wait(_start(engine, definition), timeout=30)
    assert described["status"] == "SUCCEEDED"
    seen = record.seen
    assert len(seen) == 2 and seen[0] != seen[1], "each invocation has a request id of its own"
    output = json.loads(described["output"])
    for name, request_id in zip(("one", "two"), seen, strict=True):
        response = output[name]
        assert response["Payload"] == {"ran": request_id}
        assert _ids(response) == {request_id}
        headers = response["SdkHttpMetadata"]
        assert headers["AllHttpHeaders"]["X-Amzn-Trace-Id"] == [headers["HttpHeaders"]["X-Amzn-Trace-Id"]]
    log = base64.b64decode(output["one"]["LogResult"]).decode()
    assert log == f"START RequestId: {seen[0]} Version: $LATEST\nEND RequestId: {seen[0]}\n"
    history = engine.service.get_execution_history(described["executionArn"])
    recorded = [json.loads(e["taskSucceededEventDetails"]["output"]) for e in history if e["type"] == "TaskSucceeded"]
    assert [_ids(response) for response in recorded] == [{seen[0]}, {seen[1]}]


def test_a_token_task_submits_the_request_id_its_handler_ran_with(engine: Engine, record: Recorder) -> None:
    definition = {"StartAt": "Ask", "States": {"Ask": {
        **_invoke(Payload={"token.$": "$$.Task.Token"}), "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "End": True}}}
    arn = _start(engine, definition)
    submitted = wait_for(lambda: [e for e in engine.service.get_execution_history(arn)
                                  if e["type"] == "TaskSubmitted"])
    engine.service.stop_execution(arn)
    assert len(record.seen) == 1
    assert _ids(json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])) == set(record.seen)


def test_an_event_invocation_runs_under_the_request_id_of_its_202(engine: Engine, record: Recorder) -> None:
    definition = {"StartAt": "Fire", "States": {"Fire": {**_invoke(InvocationType="Event"), "End": True}}}
    described = engine.wait(_start(engine, definition), timeout=30)
    assert record.ran.wait(30)
    response = json.loads(described["output"])
    assert response["StatusCode"] == 202 and len(record.seen) == 1 and _ids(response) == set(record.seen)
    headers = response["SdkHttpMetadata"]
    assert headers["AllHttpHeaders"]["X-Amzn-Trace-Id"] == [headers["HttpHeaders"]["X-Amzn-Trace-Id"]]


def test_a_dry_run_answers_under_one_request_id_and_runs_nothing(engine: Engine, record: Recorder) -> None:
    definition = {"StartAt": "Check", "States": {"Check": {**_invoke(InvocationType="DryRun"), "End": True}}}
    described = engine.wait(_start(engine, definition), timeout=30)
    response = json.loads(described["output"])
    assert response["StatusCode"] == 204 and len(_ids(response)) == 1 and record.seen == []
