"""An execution that waits for something slow (a Wait, a retry's back-off, a callback) is only rows:
the decider lets go of it once its round is durable and reloads it from the store when it wakes."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from support import task, wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration

WAITING = {"StartAt": "Pause", "States": {
    "Pause": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Work"},
    "Work": task("work")}}
CALLBACK = {"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "Next": "Work"},
    "Work": task("work")}}


def _history_is_gap_free(engine: Engine, arn: str) -> list[str]:
    events = engine.service.get_execution_history(arn)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)
    return [e["type"] for e in events]


def test_waiting_executions_are_let_go_of_and_reloaded_when_they_wake(tmp_path: Path) -> None:
    gate = threading.Event()
    busy = []

    def work(event: Any, context: Any) -> Any:
        if event.get("hold"):
            busy.append(context.idempotency_key)
            gate.wait(10)  # an execution whose task is running stays in memory
        return {**event, "worked": True}

    engine = Engine(f"sqlite:///{tmp_path / 'wait.db'}", functions={"work": work}, poll_interval=0.05)
    with engine.start():
        waiting = engine.service.create_state_machine("waiting", WAITING)
        sleepers = [engine.service.start_execution(waiting, {"n": n, "seconds": 1}) for n in range(20)]
        held = engine.service.start_execution(waiting, {"n": -1, "seconds": 0, "hold": True})
        callback = engine.service.start_execution(engine.service.create_state_machine("callback", CALLBACK), {"c": 1})
        wait_for(lambda: busy and "TaskStarted" in _history_is_gap_free(engine, callback))
        # The sleepers and the callback are rows only; the execution whose function runs is not.
        wait_for(lambda: engine.executions_in_memory == 1, timeout=5)
        token = json.loads([e for e in engine.service.get_execution_history(callback)
                            if e["type"] == "TaskScheduled"][-1]["taskScheduledEventDetails"]["parameters"])
        engine.service.send_task_success(token["MessageBody"]["token"], json.dumps({"approved": True}))
        gate.set()
        for arn in [*sleepers, held]:
            description = engine.wait(arn, timeout=20)
            assert description["status"] == "SUCCEEDED", description
            assert json.loads(description["output"])["worked"] is True
            assert _history_is_gap_free(engine, arn).count("TaskStateEntered") == 1
        description = engine.wait(callback, timeout=20)
        assert json.loads(description["output"]) == {"approved": True, "worked": True}
        assert _history_is_gap_free(engine, callback)[-1] == "ExecutionSucceeded"
        wait_for(lambda: engine.executions_in_memory == 0, timeout=5)  # once the last rounds are acknowledged
