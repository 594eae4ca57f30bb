"""lambda:invoke with InvocationType Event on the durable engine: Lambda's queue, stored with the 202."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import rows, wait_for

from stateway.engine import Engine, invocations
from stateway.workers.python import TimedHandler

pytestmark = pytest.mark.integration


def _machine(resource: str = "arn:aws:states:::lambda:invoke", **payload: Any) -> dict[str, Any]:
    return {"StartAt": "Fire", "States": {"Fire": {
        "Type": "Task", "Resource": resource, "End": True,
        "Parameters": {"FunctionName": "notify", "InvocationType": "Event", "Payload": {"n": 1, **payload}}}}}


def _request_id(described: dict[str, Any]) -> str:
    """The request id of the 202 a task's output holds."""
    return str(json.loads(described["output"])["SdkResponseMetadata"]["RequestId"])


def _queued(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT execution_arn, request_id, attempts FROM async_invocations")


def test_the_invocation_is_stored_with_the_202_and_deleted_once_it_has_run(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    release = threading.Event()
    calls: list[tuple[Any, str, str]] = []

    def notify(event: Any, context: Any) -> None:
        calls.append((event, context.aws_request_id, context.idempotency_key))
        release.wait(30)

    with Engine(f"sqlite:///{db}", functions={"notify": notify}, poll_interval=0.05) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", _machine()), {})
        described = engine.wait(arn, timeout=10)
        assert described["status"] == "SUCCEEDED"
        request = _request_id(described)
        wait_for(lambda: calls)
        # Running, and still stored: a crash now runs it again after the restart.
        assert _queued(db) == [(arn, request, 0)]
        assert calls == [({"n": 1}, request, f"{arn}/1/Fire/0")]
        release.set()
        wait_for(lambda: not _queued(db))
    assert len(calls) == 1


def test_an_invocation_left_when_the_engine_stopped_runs_on_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    never = threading.Event()
    started: list[str] = []
    calls: list[tuple[Any, str, str]] = []

    def hangs(event: Any, context: Any) -> None:
        started.append(context.aws_request_id)
        never.wait(30)  # the engine stops meanwhile: this run's end is never recorded

    def notify(event: Any, context: Any) -> None:
        calls.append((event, context.aws_request_id, context.idempotency_key))

    try:
        with Engine(f"sqlite:///{db}", functions={"notify": hangs}) as engine:
            arn = engine.service.start_execution(engine.service.create_state_machine("m", _machine()), {})
            request = _request_id(engine.wait(arn, timeout=10))
            wait_for(lambda: started)
        assert _queued(db) == [(arn, request, 0)]
        with Engine(f"sqlite:///{db}", functions={"notify": notify}, poll_interval=0.05):
            wait_for(lambda: not _queued(db))
    finally:
        never.set()
    assert started == [request]
    assert calls == [({"n": 1}, request, f"{arn}/1/Fire/0")], "the same event, request id and key"


@pytest.mark.parametrize("failures", [1, 3])
def test_a_function_error_is_retried_twice_as_lambda_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture, failures: int) -> None:
    db = tmp_path / "e.db"
    monkeypatch.setattr(invocations, "RETRY_DELAYS_MS", (300, 600))  # Lambda's are 1 and 2 minutes
    calls: list[tuple[float, str]] = []

    def notify(event: Any, context: Any) -> None:
        calls.append((time.monotonic(), context.aws_request_id))
        if len(calls) <= failures:
            raise RuntimeError(f"failure {len(calls)}")

    caplog.set_level(logging.WARNING, "stateway.functions")
    with Engine(f"sqlite:///{db}", functions={"notify": notify}, poll_interval=0.05) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", _machine()), {})
        request = _request_id(engine.wait(arn, timeout=10))
        # Between attempts the row holds how many failed, so that a restart goes on counting.
        wait_for(lambda: _queued(db) == [(arn, request, 1)])
        wait_for(lambda: len(calls) == min(failures + 1, 3) and not _queued(db))
        time.sleep(0.8)  # no attempt after the last
    assert len(calls) == min(failures + 1, 3)
    assert {request_id for _, request_id in calls} == {request}, "every attempt runs under the 202's request id"
    gaps = [later - earlier for (earlier, _), (later, _) in zip(calls, calls[1:], strict=False)]
    assert all(gap >= delay for gap, delay in zip(gaps, (0.3, 0.6), strict=False)), gaps
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == failures and "RuntimeError" in warnings[0] and "retried in" in warnings[0]
    if failures == 3:
        assert "discarded after 3 attempts" in warnings[-1]


def test_an_event_invocation_of_a_token_task_can_answer_it(tmp_path: Path) -> None:
    # A common use: the function gets the task token in its event and answers when it is done.
    db = tmp_path / "e.db"
    engines: list[Engine] = []

    def notify(event: Any, context: Any) -> None:
        engines[0].service.send_task_success(event["token"], json.dumps({"done": event["n"]}))

    machine = _machine("arn:aws:states:::lambda:invoke.waitForTaskToken", **{"token.$": "$$.Task.Token"})
    with Engine(f"sqlite:///{db}", functions={"notify": notify}, poll_interval=0.05) as engine:
        engines.append(engine)
        arn = engine.service.start_execution(engine.service.create_state_machine("m", machine), {})
        described = engine.wait(arn, timeout=10)
        history = engine.service.get_execution_history(arn)
        wait_for(lambda: not _queued(db))
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"done": 1}
    submitted = [e for e in history if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 1 and json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])["StatusCode"] == 202


def test_invocations_that_hang_time_out_and_never_take_the_task_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # Two hung Event invocations on an engine of one worker: tasks still run, and each attempt times
    # out, is retried as Lambda retries it, and is then discarded — before a restart and after one.
    db = tmp_path / "e.db"
    monkeypatch.setattr(invocations, "RETRY_DELAYS_MS", (100, 100))  # Lambda's are 1 and 2 minutes
    never = threading.Event()
    attempts: list[str] = []

    def notify(event: Any, context: Any) -> None:
        attempts.append(context.aws_request_id)
        never.wait(30)

    plain = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:ok", "TimeoutSeconds": 5,
        "End": True}}}
    functions = {"notify": notify, "ok": lambda event, context: {"ran": True}}
    caplog.set_level(logging.WARNING, "stateway.functions")
    try:
        with Engine(f"sqlite:///{db}", functions=functions, workers=1, poll_interval=0.05,
                    function_timeout_seconds=60) as engine:
            machine = engine.service.create_state_machine("m", _machine())
            for _ in range(2):
                assert engine.wait(engine.service.start_execution(machine, {}), timeout=10)["status"] == "SUCCEEDED"
            wait_for(lambda: attempts)  # the invocation workers are as many as the task workers: one
            arn = engine.service.start_execution(engine.service.create_state_machine("plain", plain), {})
            described = engine.wait(arn, timeout=10)
            assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"ran": True}
        assert len(_queued(db)) == 2, "still hanging when the engine stopped: they run again on the next start"
        with Engine(f"sqlite:///{db}", functions=functions, workers=1, poll_interval=0.05,
                    function_timeout_seconds=0.2) as engine:
            wait_for(lambda: len(attempts) >= 2)
            arn = engine.service.start_execution("arn:aws:states:us-east-1:123456789012:stateMachine:plain", {})
            assert engine.wait(arn, timeout=10)["status"] == "SUCCEEDED"
            wait_for(lambda: not _queued(db))
    finally:
        never.set()
    assert len(attempts) == 1 + 6, "one before the restart, whose end was never recorded; then three of each"
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 6 and all("Task timed out after 0.20 seconds" in w for w in warnings), warnings
    assert sum("discarded after 3 attempts" in w for w in warnings) == 2


def test_the_warning_for_an_invocation_that_timed_out_names_the_functions_own_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A function with a timeout of its own is bounded by it, not by the engine's default, and the warning
    says so in Lambda's words (it named the default, 60 s here, for an attempt given up on after 0.2 s)."""
    monkeypatch.setattr(invocations, "RETRY_DELAYS_MS", ())  # one attempt, then discarded
    never = threading.Event()
    calls: list[str] = []

    def notify(event: Any, context: Any) -> None:
        calls.append(context.aws_request_id)
        never.wait(30)

    db = tmp_path / "e.db"
    caplog.set_level(logging.WARNING, "stateway.functions")
    try:
        with Engine(f"sqlite:///{db}", functions={"notify": TimedHandler(notify, 0.2)}, poll_interval=0.05,
                    function_timeout_seconds=60) as engine:
            described = engine.wait(engine.service.start_execution(
                engine.service.create_state_machine("m", _machine()), {}), timeout=10)
            assert described["status"] == "SUCCEEDED"
            wait_for(lambda: calls and not _queued(db))
    finally:
        never.set()
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "Task timed out after 0.20 seconds; discarded after 1 attempts" in warnings[0], \
        warnings
