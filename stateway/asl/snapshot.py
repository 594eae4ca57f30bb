"""Snapshot ⇄ JSON text, so the shell can store an execution's state and load it back exactly."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from stateway.asl.events import ExecutionInfo
from stateway.asl.frames import Frame, Join, Snapshot
from stateway.asl.resources import parse_resource

_FRAME_FIELDS = {f.name for f in fields(Frame)}
_JOIN_FIELDS = {f.name for f in fields(Join)}
# Frame fields that hold a Join (the running one, and those kept for a redrive).
_JOIN_VALUED = tuple(f.name for f in fields(Frame) if f.name.endswith("join"))


def dumps(snapshot: Snapshot) -> str:
    """Compact JSON for storage; the inverse of `loads`."""
    frames = {}
    for frame_id, frame in snapshot.frames.items():
        data = {name: getattr(frame, name) for name in _FRAME_FIELDS
                if name not in _JOIN_VALUED and name != "task_resource"}
        data["retry_attempts"] = {str(k): v for k, v in frame.retry_attempts.items()}
        data["task_resource"] = frame.task_resource.arn if frame.task_resource else None
        for name in _JOIN_VALUED:
            join = getattr(frame, name)
            data[name] = _fields(join) if join is not None else None
        frames[frame_id] = data
    body = {
        "execution": _fields(snapshot.execution),
        "input": snapshot.input,
        "status": snapshot.status,
        "next_event_id": snapshot.next_event_id,
        "seq": snapshot.seq,
        "frames": frames,
        "tasks": snapshot.tasks,
        "timers": snapshot.timers,
        "output": snapshot.output,
        "error": snapshot.error,
        "cause": snapshot.cause,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, shallowly (asdict deep-copies, which costs more than JSON)."""
    return {f.name: getattr(value, f.name) for f in fields(value)}


def loads(text: str) -> Snapshot:
    body: dict[str, Any] = json.loads(text)
    frames = {}
    for frame_id, data in body["frames"].items():
        values = {k: v for k, v in data.items() if k in _FRAME_FIELDS}
        values["retry_attempts"] = {int(k): v for k, v in data.get("retry_attempts", {}).items()}
        resource = data.get("task_resource")
        values["task_resource"] = parse_resource(resource) if resource else None
        for name in _JOIN_VALUED:
            join = data.get(name)
            values[name] = Join(**{k: v for k, v in join.items() if k in _JOIN_FIELDS}) if join else None
        frames[frame_id] = Frame(**values)
    return Snapshot(
        execution=ExecutionInfo(**body["execution"]),
        input=body["input"],
        status=body["status"],
        next_event_id=body["next_event_id"],
        seq=body["seq"],
        frames=frames,
        tasks=dict(body["tasks"]),
        timers=dict(body["timers"]),
        output=body.get("output"),
        error=body.get("error"),
        cause=body.get("cause"),
    )
