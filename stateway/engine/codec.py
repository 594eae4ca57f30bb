"""Core events and commands ⇄ JSON, for the inbox and task rows."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from stateway.asl import events as ev

START = "ExecutionStarted"  # the inbox row that asks the decider to begin an execution

_EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ev.TaskStarted, ev.TaskSubmitted, ev.TaskSucceeded, ev.TaskFailed, ev.TaskTimedOut,
                ev.TimerFired, ev.StopRequested, ev.RedriveRequested)
}


def event_to_json(event: Any) -> str:
    return json.dumps({"type": type(event).__name__, **asdict(event)}, separators=(",", ":"), ensure_ascii=False)


def event_from_json(text: str) -> Any:
    body = json.loads(text)
    if body["type"] == START:
        return START
    cls = _EVENT_TYPES[body.pop("type")]
    return cls(**body)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_COMMAND_FIELDS = tuple(f.name for f in fields(ev.ScheduleTask))


def command_to_json(command: ev.ScheduleTask) -> str:
    body = {name: getattr(command, name) for name in _COMMAND_FIELDS}  # shallow: asdict deep-copies
    return _ENCODER.encode(body)


def command_from_json(text: str) -> ev.ScheduleTask:
    return ev.ScheduleTask(**json.loads(text))
