"""When an activity task's HeartbeatSeconds clock runs: from its scheduling, and anew from its claim."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support import rows, wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration


def _machine(engine: Engine, activity: str, **timeouts: Any) -> str:
    return engine.service.create_state_machine("m", {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "End": True, **timeouts}}})


def _deadline(db: Path, arn: str) -> tuple[int, int]:
    """(created_ms, heartbeat_deadline_ms) of the execution's one task row."""
    (row,) = rows(db, "SELECT created_ms, heartbeat_deadline_ms FROM tasks WHERE execution_arn = ?", arn)
    return row[0], row[1]


def test_the_claim_restarts_the_heartbeat_clock_and_a_restart_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    with Engine(f"sqlite:///{db}") as engine:
        activity, _ = engine.service.create_activity("review")
        arn = engine.service.start_execution(_machine(engine, activity, HeartbeatSeconds=600), {})
        wait_for(lambda: rows(db, "SELECT 1 FROM tasks WHERE execution_arn = ?", arn))
        created, scheduled_deadline = _deadline(db, arn)
        assert scheduled_deadline == created + 600_000  # counted from its scheduling while nobody has it
        wait_for(lambda: time.time() * 1000 > created + 1)  # the claim comes later than the scheduling
        claimed = engine.service.claim_activity_task(activity, "w")
        assert claimed is not None
        _, claimed_deadline = _deadline(db, arn)
    assert claimed_deadline > scheduled_deadline
    with Engine(f"sqlite:///{db}") as engine:
        assert _deadline(db, arn)[1] == claimed_deadline  # a stored deadline: the restart counts on from it
        engine.service.send_task_success(claimed.token, "{}")
        assert engine.wait(arn, timeout=30)["status"] == "SUCCEEDED"


def test_a_task_no_worker_claims_within_heartbeat_seconds_times_out_unstarted(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", poll_interval=0.05) as engine:
        activity, _ = engine.service.create_activity("nobody")
        arn = engine.service.start_execution(_machine(engine, activity, HeartbeatSeconds=1), {})
        described = engine.wait(arn, timeout=30)
        types = [e["type"] for e in engine.service.get_execution_history(arn)]
    assert (described["status"], described["error"]) == ("FAILED", "States.HeartbeatTimeout")
    assert "ActivityStarted" not in types and "ActivityTimedOut" in types
