"""An activity task claimed while no engine runs on the file: the next engine records its ActivityStarted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stateway.engine import Engine
from stateway.engine.service import Service
from stateway.store.sqlite import open_store

pytestmark = pytest.mark.integration


def _scheduled(db: str) -> tuple[str, str]:
    """An execution whose one Task state waits for a worker of an activity; the engine that scheduled it stops."""
    with Engine(db, poll_interval=0.05) as engine:
        activity, _ = engine.service.create_activity("review")
        machine = engine.service.create_state_machine("reviews", {"StartAt": "Review", "States": {
            "Review": {"Type": "Task", "Resource": activity, "End": True}}})
        execution = engine.service.start_execution(machine, {"order": 7})
        deadline = time.monotonic() + 10
        while engine.store.one("next_activity_task", {"activity_arn": activity}) is None:
            assert time.monotonic() < deadline, "the activity task was not scheduled"
            time.sleep(0.01)
    return activity, execution


@pytest.mark.parametrize("answered_before_the_restart", [False, True])
def test_a_claim_made_while_no_engine_runs_is_recorded_once(tmp_path: Path, answered_before_the_restart: bool) -> None:
    db = f"sqlite:///{tmp_path / 'claims.db'}"
    activity, execution = _scheduled(db)
    service = Service(open_store(db))  # a worker beside the file, as through `stateway serve`'s API
    claimed = service.claim_activity_task(activity, "reviewer-1")
    assert claimed is not None and json.loads(claimed.input) == {"order": 7}
    if answered_before_the_restart:
        service.send_task_success(claimed.token, '{"approved": true}')
    with Engine(db, poll_interval=0.05) as engine:
        if not answered_before_the_restart:
            deadline = time.monotonic() + 10
            while engine.store.one("pending_inbox", {"limit": 1}) is not None:  # the claim's start applied
                assert time.monotonic() < deadline, "the claim was not applied"
                time.sleep(0.01)
            engine.service.send_task_success(claimed.token, '{"approved": true}')
        assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        events = engine.service.get_execution_history(execution)
    kinds = [e["type"] for e in events]
    assert kinds == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                     "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"], kinds
    started = next(e for e in events if e["type"] == "ActivityStarted")
    assert started["activityStartedEventDetails"] == {"workerName": "reviewer-1"}
