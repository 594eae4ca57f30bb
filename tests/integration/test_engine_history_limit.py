"""The 25,000-event history quota on a real engine and SQLite file: a looping execution fails at event
25,000 with a gap-free stored history, cannot be redriven, and does not hold up other executions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import test_frames
from support import rows, task

from stateway.asl.interpreter import HISTORY_LIMIT_CAUSE
from stateway.engine import Engine
from stateway.engine import errors as api

pytestmark = pytest.mark.integration

engines = test_frames.engines  # the engines a test starts, each stopped at its end

SPIN = {"StartAt": "Spin", "States": {
    "Spin": {"Type": "Pass", "Next": "Loop"},
    "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}],
             "Default": "Done"},
    "Done": {"Type": "Succeed"}}}
POLL = {"StartAt": "Check", "States": {
    "Check": task("check", "Ready"),
    "Ready": {"Type": "Choice", "Choices": [{"Variable": "$.ready", "BooleanEquals": False, "Next": "Check"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}}


def test_a_polling_loop_fails_at_event_25000_and_cannot_be_redriven(tmp_path: Path, engines: list[Engine]) -> None:
    calls: list[int] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(1)
        return {"ready": False}

    engine = Engine(f"sqlite:///{tmp_path / 'limit.db'}", functions={"check": check}).start()
    engines.append(engine)
    arn = engine.service.start_execution(engine.service.create_state_machine("poll", POLL), {"ready": False})
    described = engine.wait(arn, timeout=120)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED", "States.Runtime", HISTORY_LIMIT_CAUSE)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution history event limit exceeded")
    history = engine.service.get_execution_history(arn)
    assert [e["id"] for e in history] == list(range(1, 25001))
    assert [e["previousEventId"] for e in history[-1:]] == [24999]
    assert history[-1]["type"] == "ExecutionFailed"
    # Every call recorded as started in the history ran; none ran past the cut.
    assert len(calls) >= sum(e["type"] == "LambdaFunctionSucceeded" for e in history)
    assert len(calls) <= sum(e["type"] == "LambdaFunctionScheduled" for e in history)
    assert rows(tmp_path / "limit.db", "SELECT count(*) FROM tasks WHERE execution_arn = ?", arn) == [(0,)]
    with pytest.raises(api.ExecutionNotRedrivable, match="Execution history event limit exceeded"):
        engine.service.redrive_execution(arn)


def test_a_loop_that_never_waits_does_not_hold_up_other_executions(tmp_path: Path, engines: list[Engine]) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'spin.db'}").start()
    engines.append(engine)
    spin = engine.service.start_execution(engine.service.create_state_machine("spin", SPIN), {"spin": True})
    done = engine.service.start_execution(engine.service.create_state_machine("done", SPIN), {"spin": False})
    assert engine.wait(done, timeout=60)["status"] == "SUCCEEDED"
    assert engine.wait(spin, timeout=60)["cause"] == HISTORY_LIMIT_CAUSE


def _ends_at(last_state: dict[str, Any], rounds: int, pre: bool = False) -> dict[str, Any]:
    """Inc and Check `rounds` times (4 events each), after an optional Pass (2), then `last_state`."""
    states: dict[str, Any] = {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": rounds, "Next": "Inc"}],
                  "Default": "Last"},
        "Last": last_state}
    if pre:
        states["Pre"] = {"Type": "Pass", "Next": "Inc"}
    return {"StartAt": "Pre" if pre else "Inc", "States": states}


@pytest.mark.parametrize(("name", "definition", "last_id"), [
    # 1 + 4 * 6249 + FailStateEntered + ExecutionFailed
    ("fail-state", _ends_at({"Type": "Fail", "Error": "Own"}, 6249), 24999),
    # 1 + 2 + 4 * 6248 + TaskStateEntered, Scheduled, Started, Failed + ExecutionFailed
    ("failed-task", _ends_at(task("boom"), 6248, pre=True), 25000),
])
def test_an_execution_that_failed_at_its_last_events_cannot_be_redriven(
        tmp_path: Path, engines: list[Engine], name: str, definition: dict[str, Any], last_id: int) -> None:
    """ExecutionRedriven would be event 25,000 or later, which may only end an execution."""
    def boom(event: Any, context: Any) -> None:
        raise ValueError("no")

    engine = Engine(f"sqlite:///{tmp_path / 'last.db'}", functions={"boom": boom}).start()
    engines.append(engine)
    arn = engine.service.start_execution(engine.service.create_state_machine(name, definition), {"n": 0})
    described = engine.wait(arn, timeout=60)
    history = engine.service.get_execution_history(arn)
    assert (described["status"], history[-1]["type"], history[-1]["id"]) == ("FAILED", "ExecutionFailed", last_id)
    assert described["error"] != "States.Runtime"  # its own failure, not the quota's
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution history event limit exceeded")
    with pytest.raises(api.ExecutionNotRedrivable, match="Execution history event limit exceeded"):
        engine.service.redrive_execution(arn)
    assert len(engine.service.get_execution_history(arn)) == last_id
