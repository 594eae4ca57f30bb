"""RedriveExecution's conditions in AWS's words (`not_redrivable_reason`): status, the state machine
being deleted, the history quota, a year open at most, and 14 days after the end."""

from __future__ import annotations

from typing import Any

import pytest

from stateway.asl.interpreter import HISTORY_LIMIT_CAUSE
from stateway.engine.service import (
    MAX_DURATION_SECONDS,
    REDRIVABLE_PERIOD_MS,
    not_redrivable_reason,
    redrive_status,
)

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STOP = START + 60_000
DAY_MS = 24 * 3600 * 1000


def execution(status: str = "FAILED", error: str | None = "Boom", cause: str | None = None) -> dict[str, Any]:
    return {"status": status, "error": error, "cause": cause, "start_ms": START, "stop_ms": STOP}


@pytest.mark.parametrize("status", ["FAILED", "ABORTED", "TIMED_OUT"])
def test_an_unsuccessful_execution_can_be_redriven_within_its_period(status: str) -> None:
    assert not_redrivable_reason(execution(status), STOP + REDRIVABLE_PERIOD_MS, "ACTIVE") is None


@pytest.mark.parametrize("status", ["SUCCEEDED", "RUNNING"])
def test_a_running_or_succeeded_execution_cannot(status: str) -> None:
    assert not_redrivable_reason(execution(status), STOP, "ACTIVE") == f"Execution is {status} and cannot be redriven"


def test_fourteen_days_after_its_end_it_cannot() -> None:
    assert REDRIVABLE_PERIOD_MS == 14 * DAY_MS
    assert not_redrivable_reason(execution(), STOP + REDRIVABLE_PERIOD_MS + 1, "ACTIVE") == \
        "Execution redrivable period exceeded"


def test_an_execution_open_for_a_year_cannot() -> None:
    long_ago = {**execution(), "stop_ms": START + MAX_DURATION_SECONDS * 1000 - DAY_MS}
    assert not_redrivable_reason(long_ago, START + MAX_DURATION_SECONDS * 1000 - 1, "ACTIVE") is None
    assert not_redrivable_reason(long_ago, START + MAX_DURATION_SECONDS * 1000, "ACTIVE") == \
        "Execution has exceeded the max execution time"


@pytest.mark.parametrize("machine_status", ["DELETING", None], ids=["deleting", "removed"])
def test_an_execution_of_a_machine_being_deleted_cannot(machine_status: str | None) -> None:
    assert not_redrivable_reason(execution(), STOP, machine_status) == "State machine is in DELETING status"


def test_an_execution_whose_history_has_no_room_for_execution_redriven_cannot() -> None:
    """ExecutionRedriven may not be event 25,000 (which may only end an execution), whatever ended it."""
    full = {**execution(error="States.Runtime", cause=HISTORY_LIMIT_CAUSE), "last_event_id": 25_000}
    assert not_redrivable_reason(full, STOP, "ACTIVE") == "Execution history event limit exceeded"
    own_failure = {**execution(), "last_event_id": 24_999}
    assert not_redrivable_reason(own_failure, STOP, "ACTIVE") == "Execution history event limit exceeded"
    assert not_redrivable_reason({**own_failure, "last_event_id": 24_998}, STOP, "ACTIVE") is None


def test_redrive_status_answers_under_the_keys_asked_for() -> None:
    assert redrive_status(execution(), STOP, "redriveStatus", "redriveStatusReason") == {"redriveStatus": "REDRIVABLE"}
    assert redrive_status(execution("SUCCEEDED"), STOP, "RedriveStatus", "RedriveStatusReason") == {
        "RedriveStatus": "NOT_REDRIVABLE", "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven"}
