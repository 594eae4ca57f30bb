"""Express executions end at AWS's five-minute limit (here made shorter) as TimeoutSeconds ends them."""

from __future__ import annotations

from stateway.asl.parse import parse_machine
from stateway.engine.express import ExpressRunner

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
