"""Core events and commands ⇄ JSON, for the inbox and task rows."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from typing import Any

from stateway.asl import events as ev
from stateway.asl.jsontext import compact_encoder

START = "ExecutionStarted"  # the inbox row that asks the decider to begin an execution

_EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ev.TaskStarted, ev.TaskSubmitted, ev.TaskSucceeded, ev.TaskFailed, ev.TaskTimedOut,
                ev.TimerFired, ev.StopRequested, ev.RedriveRequested, ev.MapRunUpdated)
}
_encode = compact_encoder(allow_nan=True)
# Field names per event class, read shallowly: `asdict` deep-copies a task's whole output first.
_EVENT_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in _EVENT_TYPES.values()}


def event_to_json(event: Any) -> str:
    body = {"type": type(event).__name__}
    body.update((name, getattr(event, name)) for name in _EVENT_FIELDS[type(event)])
    return _encode(body)


def event_from_json(text: str) -> Any:
    body = json.loads(text)
    if body["type"] == START:
        return START
    cls = _EVENT_TYPES[body.pop("type")]
    return cls(**body)


_COMMAND_FIELDS = tuple(f.name for f in fields(ev.ScheduleTask))
# Optional fields are left out while they hold their default (None): a task row is written for every
# Task state run, and most tasks have no timeout, heartbeat, token or credentials.
_REQUIRED = frozenset(f.name for f in fields(ev.ScheduleTask) if f.default is MISSING)


def command_to_json(command: ev.ScheduleTask) -> str:
    body = {name: value for name in _COMMAND_FIELDS
            if (value := getattr(command, name)) is not None or name in _REQUIRED}
    return _encode(body)


def command_from_json(text: str) -> ev.ScheduleTask:
    return ev.ScheduleTask(**json.loads(text))
