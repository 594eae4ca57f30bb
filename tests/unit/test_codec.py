"""Core events and task commands survive their JSON form in inbox and task rows."""

from __future__ import annotations

import json

import pytest

from stateway.asl import events as ev
from stateway.engine.codec import START, command_from_json, command_to_json, event_from_json, event_to_json


@pytest.mark.parametrize(
    "event",
    [
        ev.TaskStarted("k1", "worker-a"),
        ev.TaskSubmitted("k2", {"Payload": [1, {"x": None}]}),
        ev.TaskSucceeded("k3", {"nested": {"list": [1, 2.5, "é"]}}),
        ev.TaskSucceeded("k4", None),
        ev.TaskFailed("k5", "Boom", None),
        ev.TaskTimedOut("k6", "States.HeartbeatTimeout"),
        ev.TimerFired("t1"),
        ev.StopRequested("Err", "why"),
        ev.RedriveRequested(),
        ev.RedriveRequested(1_767_225_600_000),
    ],
)
def test_events_round_trip(event: object) -> None:
    text = event_to_json(event)
    assert json.loads(text)["type"] == type(event).__name__
    assert event_from_json(text) == event


def test_start_marker() -> None:
    assert event_from_json('{"type":"ExecutionStarted"}') == START


def _command(**extra: object) -> ev.ScheduleTask:
    return ev.ScheduleTask(task_id="k1", frame_id="root", state_name="Charge",
                           resource="arn:aws:lambda:us-east-1:123456789012:function:charge", kind="lambda",
                           resource_type="lambda", service_resource="arn:aws:lambda:us-east-1:123456789012:function:charge",
                           input={"amount": 5}, attempt=2, **extra)  # type: ignore[arg-type]


def test_command_round_trips_and_leaves_out_unset_optional_fields() -> None:
    plain = _command()
    body = json.loads(command_to_json(plain))
    assert None not in body.values()
    assert body["resource"] == plain.resource and body["input"] == {"amount": 5}
    assert command_from_json(command_to_json(plain)) == plain
    full = _command(timeout_seconds=30, heartbeat_seconds=5, task_token="tok", credentials={"RoleArn": "r"})
    assert command_from_json(command_to_json(full)) == full


def test_command_with_null_input_keeps_it() -> None:
    command = ev.ScheduleTask("k1", "root", "S", "arn:x", "service", "sqs", "sendMessage", None, 0)
    assert json.loads(command_to_json(command))["input"] is None
    assert command_from_json(command_to_json(command)) == command
