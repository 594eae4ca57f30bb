"""Snapshot ⇄ JSON text, so the shell can store an execution's state and load it back exactly.

A Map's items and results can be large and change little per step, so the shell may keep each
join's bulk data (`inputs`, `results`, `source`) apart: `dumps(..., external=...)` hands every join
to a callback and leaves that data out; `loads(..., join_data=...)` asks for it back by join id.
Likewise each Parallel branch and Map iteration (every frame but the root) may be kept apart:
`dumps(..., frame_text=...)` hands each one's JSON text to a callback and the snapshot lists only
their ids; `loads(..., frame_text=...)` asks for each text back by frame id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from stateway.asl.events import ExecutionInfo
from stateway.asl.frames import ROOT, Frame, Join, Snapshot
from stateway.asl.resources import parse_resource

_FRAME_FIELDS = {f.name for f in fields(Frame)}
_JOIN_FIELDS = {f.name for f in fields(Join)}
# Frame fields that hold a Join (the running one, and those kept for a redrive).
_JOIN_VALUED = tuple(f.name for f in fields(Frame) if f.name.endswith("join"))
_BULK = ("inputs", "results", "source")

JoinData = tuple[list[Any], list[Any], Any]  # inputs, results, source


def dumps(snapshot: Snapshot, *, external: Callable[[Join], None] | None = None,
          frame_text: Callable[[str, str], None] | None = None) -> str:
    """Compact JSON for storage; the inverse of `loads`. With `external`, joins' bulk data is left
    out (the callback stores it) and the join records only how many children it has. With
    `frame_text`, every frame but the root goes to the callback as `(frame id, JSON text)`."""
    frames = {}
    apart = []
    for frame_id, frame in snapshot.frames.items():
        data = _frame_fields(frame, external)
        if frame_text is not None and frame_id != ROOT:
            frame_text(frame_id, _ENCODER.encode(data))
            apart.append(frame_id)
        else:
            frames[frame_id] = data
    execution = _fields(snapshot.execution)
    if external is not None:
        # The shell keeps the execution's input itself: not again in every snapshot it stores.
        execution["input_text"] = None
    body = {
        "execution": execution,
        "status": snapshot.status,
        "next_event_id": snapshot.next_event_id,
        "seq": snapshot.seq,
        "frames": frames,
        "frame_ids": apart,
        "tasks": snapshot.tasks,
        "timers": snapshot.timers,
        "output": snapshot.output,
        "error": snapshot.error,
        "cause": snapshot.cause,
    }
    return _ENCODER.encode(body)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, shallowly (asdict deep-copies, which costs more than JSON)."""
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
    return {name: getattr(value, name) for name in names}


def _frame_fields(frame: Frame, external: Callable[[Join], None] | None) -> dict[str, Any]:
    """One frame as a JSON-ready dict."""
    data = {name: getattr(frame, name) for name in _FRAME_FIELDS
            if name not in _JOIN_VALUED and name != "task_resource"}
    data["retry_attempts"] = {str(k): v for k, v in frame.retry_attempts.items()}
    data["task_resource"] = frame.task_resource.arn if frame.task_resource else None
    for name in _JOIN_VALUED:
        join = getattr(frame, name)
        data[name] = _join_fields(join, external) if join is not None else None
    if external is not None and frame.join is not None and frame.state_input is frame.join.source:
        # A waiting Map's input is its join's source, stored apart already: say so, not again.
        data["state_input"] = None
        data["state_input_is_source"] = True
    return data


def _join_fields(join: Join, external: Callable[[Join], None] | None) -> dict[str, Any]:
    data = _fields(join)
    if external is not None and join.id:
        external(join)
        for name in _BULK:
            data[name] = None
        data["external_size"] = len(join.inputs)
    return data


def loads(text: str, *, join_data: Callable[[str, int], JoinData] | None = None,
          input_text: str | None = None, frame_text: Callable[[str], str] | None = None) -> Snapshot:
    """The snapshot `dumps` wrote; `join_data(join_id, size)` supplies joins stored apart,
    `input_text` the execution's input when it was stored apart, and `frame_text(frame_id)` the
    text of each frame stored apart."""
    body: dict[str, Any] = json.loads(text)
    if body["execution"]["input_text"] is None:
        if input_text is None:
            raise ValueError("the snapshot was stored without its execution input and none was given")
        body["execution"]["input_text"] = input_text
    frame_data = list(body["frames"].items())
    for frame_id in body.get("frame_ids") or ():
        if frame_text is None:
            raise ValueError(f"frame {frame_id} was stored apart and no frame_text was given")
        frame_data.append((frame_id, json.loads(frame_text(frame_id))))
    frames = {}
    for frame_id, data in frame_data:
        values = {k: v for k, v in data.items() if k in _FRAME_FIELDS}
        values["retry_attempts"] = {int(k): v for k, v in data.get("retry_attempts", {}).items()}
        resource = data.get("task_resource")
        values["task_resource"] = parse_resource(resource) if resource else None
        for name in _JOIN_VALUED:
            values[name] = _load_join(data.get(name), join_data)
        if data.get("state_input_is_source") and values["join"] is not None:
            values["state_input"] = values["join"].source
        frames[frame_id] = Frame(**values)
    return Snapshot(
        execution=ExecutionInfo(**body["execution"]),
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


def _load_join(data: dict[str, Any] | None, join_data: Callable[[str, int], JoinData] | None) -> Join | None:
    if not data:
        return None
    join = Join(**{k: v for k, v in data.items() if k in _JOIN_FIELDS})
    size = data.get("external_size")
    if size is not None:
        if join_data is None:
            raise ValueError(f"join {join.id} was stored apart and no join_data was given")
        join.inputs, join.results, join.source = join_data(join.id, size)
    return join
