"""A token task whose service answers (TaskSubmitted) with more than the payload limit, on the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import rows, wait_for

from stateway.asl.causes import limit_cause
from stateway.engine import Engine
from stateway.engine.errors import ApiError

pytestmark = pytest.mark.integration

ASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
       "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token", "size.$": "$.size"}},
       "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]}
MACHINE = {"StartAt": "Ask", "States": {"Ask": ASK, "Caught": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("limit", [262_144, 4_000])
def test_an_oversized_submission_fails_the_task_and_its_token_takes_no_answer(tmp_path: Path, limit: int) -> None:
    db = tmp_path / "e.db"
    tokens: list[str] = []

    def ask(event: Any, context: Any) -> str:
        tokens.append(event["token"])
        return "x" * event["size"]  # under lambda:invoke's Payload: a little more in the TaskSubmitted output

    with Engine(f"sqlite:///{db}", functions={"ask": ask}, payload_limit_bytes=limit) as engine:
        machine = engine.service.create_state_machine("m", MACHINE)
        arn = engine.service.start_execution(machine, {"size": limit})
        described = engine.wait(arn, timeout=30)
        history = engine.service.get_execution_history(arn)
        assert engine.health()["status"] == "ok"
        with pytest.raises(ApiError) as closed:
            engine.service.send_task_success(tokens[0], "{}")
        # One just within the limit is recorded, and the task waits for its token.
        within = engine.service.start_execution(machine, {"size": limit - 2_000})
        submitted = wait_for(lambda: [e for e in engine.service.get_execution_history(within)
                                      if e["type"] == "TaskSubmitted"])
        assert len(submitted) == 1 and engine.service.describe_execution(within)["status"] == "RUNNING"
        engine.service.send_task_success(tokens[1], '{"ok": true}')
        assert engine.wait(within, timeout=30)["status"] == "SUCCEEDED"
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["error"] == {"Error": "States.DataLimitExceeded", "Cause": limit_cause("lambda")}
    types = [e["type"] for e in history]
    assert "TaskSubmitted" not in types and types[-5:] == ["TaskFailed", "TaskStateExited", "PassStateEntered",
                                                           "PassStateExited", "ExecutionSucceeded"]
    assert history[-5]["taskFailedEventDetails"]["error"] == "States.DataLimitExceeded"
    assert closed.value.type_name == "TaskTimedOut"
    assert rows(db, "SELECT count(*) FROM tasks WHERE execution_arn = ?", arn) == [(0,)]
