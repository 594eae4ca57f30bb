"""Express executions end at AWS's five-minute limit (here made shorter) as TimeoutSeconds ends them."""

from __future__ import annotations

from stateway.asl.parse import parse_machine
from stateway.engine.express import LOGGED_EVENTS, ExpressRunner

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:slow"
WAIT = {"W": {"Type": "Wait", "Seconds": 30, "End": True}}


def _run(definition: dict[str, object], limit: int) -> tuple[str, list[str]]:
    runner = ExpressRunner({}, max_duration_seconds=limit)
    try:
        record = runner.run_sync(parse_machine(definition), MACHINE, "e", "{}")
    finally:
        runner.shutdown()
    return record.status, [e["type"] for e in record.events]


def test_an_express_execution_times_out_at_its_maximum_duration() -> None:
    assert _run({"StartAt": "W", "States": WAIT}, limit=1) == (
        "TIMED_OUT", ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"])


def test_a_shorter_timeout_of_its_own_is_kept() -> None:
    status, types = _run({"TimeoutSeconds": 1, "StartAt": "W", "States": WAIT}, limit=60)
    assert status == "TIMED_OUT" and types[-1] == "ExecutionTimedOut"


def test_a_loop_that_never_waits_times_out_too_and_its_log_stays_bounded() -> None:
    """A Pass/Choice loop records events as fast as the core runs: the step pauses after its budget,
    so the five minutes (here one second) end it; the in-memory log keeps the latest events."""
    spin = {"StartAt": "Spin", "States": {
        "Spin": {"Type": "Pass", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}],
                 "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    runner = ExpressRunner({}, max_duration_seconds=1)
    try:
        record = runner.run_sync(parse_machine(spin), MACHINE, "e", '{"spin": true}')
    finally:
        runner.shutdown()
    assert record.status == "TIMED_OUT"
    events = list(record.events)
    assert events[-1]["type"] == "ExecutionTimedOut"
    assert len(events) == LOGGED_EVENTS < events[-1]["id"]  # more were recorded than the log keeps
    assert [e["id"] for e in events] == list(range(events[0]["id"], events[-1]["id"] + 1))
