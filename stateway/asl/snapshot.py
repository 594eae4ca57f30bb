"""Snapshot ⇄ JSON text, so the shell can store an execution's state and load it back exactly.

Three parts of a snapshot may be kept apart from its own document, each through callbacks:
* the bulk data of a join (its children's inputs and results, a Map's input): `dumps(...,
  external=...)` hands every join to a callback that stores what is new and writes only the join's
  counters; once that is stored, `release(...)` lets go of the data in memory and attaches a
  `JoinStore` that reads it back when a step needs it, as `loads(..., join_store=...)` does;
* every frame but the root (Parallel branches and Map iterations): `dumps(..., frame_text=...)` hands
  each one's JSON text to a callback and the snapshot lists their ids; `loads(..., frame_text=...)`
  asks for each text back by id;
* the execution input and output: with `external` they are left out, and `loads(..., input_text=...,
  output=...)` gets them back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from stateway.asl import jsontext
from stateway.asl.events import ExecutionInfo
from stateway.asl.frames import ROOT, STORED, Frame, Join, JoinStore, Snapshot
from stateway.asl.resources import parse_resource

_FRAME_FIELDS = tuple(f.name for f in fields(Frame))
_FRAME_NAMES = frozenset(_FRAME_FIELDS)
# A frame's fields at their defaults are left out of its text (`loads` gets them back from `Frame`'s
# defaults): a Map iteration's frame is stored on nearly every step, and most of its fields are unset.
_FRAME_DEFAULTS = {f.name: f.default if f.default_factory is MISSING else f.default_factory()
                   for f in fields(Frame) if f.default is not MISSING or f.default_factory is not MISSING}
# Join fields written as they are; the bulk data (`inputs`, `results`, `source`) is written only when
# it is not stored apart, and `store` never.
_JOIN_SCALARS = tuple(f.name for f in fields(Join)
                      if f.name not in ("inputs", "texts", "results", "source", "store", "reader"))
# Join fields written as they are that map a child's index to a value.
_JOIN_BY_INDEX = ("unsuccessful", "redriving")
# Frame fields that hold a Join (the running one, and those kept for a redrive).
_JOIN_VALUED = tuple(f.name for f in fields(Frame) if f.name.endswith("join"))


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
            frame_text(frame_id, _encode(data))
            apart.append(frame_id)
        else:
            frames[frame_id] = data
    execution = _fields(snapshot.execution)
    output = snapshot.output
    if external is not None:
        # The shell keeps the execution's input and output itself: not again in the snapshot it stores.
        execution["input_text"] = None
        output = None
    body = {
        "execution": execution,
        "status": snapshot.status,
        "next_event_id": snapshot.next_event_id,
        "seq": snapshot.seq,
        "frames": frames,
        "frame_ids": apart,
        "tasks": snapshot.tasks,
        "timers": snapshot.timers,
        "output": output,
        "error": snapshot.error,
        "cause": snapshot.cause,
    }
    if snapshot.ready:
        body["ready"] = snapshot.ready
    return _encode(body)


_encode = jsontext.compact_encoder(allow_nan=True)  # built once: no encoder per call
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, shallowly (asdict deep-copies, which costs more than JSON)."""
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
    return {name: getattr(value, name) for name in names}


def _frame_fields(frame: Frame, external: Callable[[Join], None] | None) -> dict[str, Any]:
    """One frame as a JSON-ready dict, without the fields at their defaults."""
    data: dict[str, Any] = {}
    for name in _FRAME_FIELDS:
        value = getattr(frame, name)
        default = _FRAME_DEFAULTS.get(name, MISSING)
        # `type` too: False == 0, and a frame must load back with the very values it had.
        if value is default or (type(value) is type(default) and value == default):
            continue
        if name in _JOIN_VALUED:
            data[name] = _join_fields(value, external)
        elif name == "task_resource":
            data[name] = value.arn
        elif name == "retry_attempts":
            data[name] = {str(k): v for k, v in value.items()}
        else:
            data[name] = value
    if external is not None and frame.join is not None and frame.join.id and frame.join.input_is_source:
        # A waiting Map's input is its join's source, stored apart already: say so, not again.
        data["state_input"] = None
        data["state_input_is_source"] = True
    return data


def _join_fields(join: Join, external: Callable[[Join], None] | None) -> dict[str, Any]:
    """One join as a JSON-ready dict: its counters, and its bulk data unless `external` takes it."""
    data = {name: getattr(join, name) for name in _JOIN_SCALARS}
    if external is not None and join.id:
        external(join)
    else:
        data["inputs"], data["results"], data["source"] = join.inputs, join.results, join.source
        if join.texts:
            data["texts"] = join.texts
    return data


def loads(text: str, *, join_store: Callable[[str], JoinStore] | None = None, input_text: str | None = None,
          output: str | None = None, frame_text: Callable[[str], str] | None = None) -> Snapshot:
    """The snapshot `dumps` wrote; `join_store(join_id)` reads back the data of joins stored apart,
    `input_text` and `output` are the execution's input and output when they were stored apart, and
    `frame_text(frame_id)` the text of each frame stored apart."""
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
        values = {k: v for k, v in data.items() if k in _FRAME_NAMES}
        values["retry_attempts"] = {int(k): v for k, v in data.get("retry_attempts", {}).items()}
        resource = data.get("task_resource")
        values["task_resource"] = parse_resource(resource) if resource else None
        for name in _JOIN_VALUED:
            values[name] = _load_join(data.get(name), join_store)
        join = values["join"]
        if data.get("state_input_is_source") and join is not None:
            # The waiting frame's input is its join's source, stored apart: read back when needed.
            join.input_is_source = True
            values["state_input"] = STORED if join.store is not None else join.source
        frames[frame_id] = Frame(**values)
    return Snapshot(
        execution=ExecutionInfo(**body["execution"]),
        status=body["status"],
        next_event_id=body["next_event_id"],
        seq=body["seq"],
        frames=frames,
        tasks=dict(body["tasks"]),
        timers=dict(body["timers"]),
        output=body.get("output") if body.get("output") is not None else output,
        error=body.get("error"),
        cause=body.get("cause"),
        ready=list(body.get("ready") or ()),
    )


def _load_join(data: dict[str, Any] | None, join_store: Callable[[str], JoinStore] | None) -> Join | None:
    """A join as `_join_fields` wrote it (or as snapshots before `size` did: lists and indices)."""
    if not data:
        return None
    values = {k: v for k, v in data.items() if k in _JOIN_SCALARS}
    for name in _JOIN_BY_INDEX:  # JSON's object keys are text: back to the children's indices
        if name in values:
            values[name] = {int(k): v for k, v in values[name].items()}
    inputs, results = data.get("inputs"), data.get("results")
    if "size" not in data:
        values["size"] = data.get("external_size") or len(inputs or ())
        values["selector_reads_input"] = True  # not known then: keep the Map's input in memory
        inputs = dict(enumerate(inputs)) if isinstance(inputs, list) else inputs
        if isinstance(results, list):
            results = {i: results[i] for i in data.get("succeeded_indices", ())}
    join = Join(**values, inputs={int(k): v for k, v in (inputs or {}).items()},
                results={int(k): v for k, v in (results or {}).items()},
                texts={int(k): v for k, v in (data.get("texts") or {}).items()})
    if data.get("inputs") is None:  # stored apart
        if join_store is None:
            raise ValueError(f"join {join.id} was stored apart and no join_store was given")
        join.store = join_store(join.id)
        join.source = STORED
    else:
        join.source = data.get("source")
    return join


def attach_stores(snapshot: Snapshot, join_store: Callable[[str], JoinStore],
                  written: Mapping[str, Iterable[int]]) -> None:
    """Once the shell has taken what `dumps(..., external=...)` handed it for the joins in `written`,
    attach `join_store(join_id)` to them: their children's inputs and input count as stored, so
    later `dumps` do not hand them over again (everything stays in memory until `release`)."""
    for _frame, _name, join in _written_joins(snapshot, written):
        if join.store is None:
            join.store = join_store(join.id)
        join.reader = None


def release(snapshot: Snapshot, join_store: Callable[[str], JoinStore], written: Mapping[str, Iterable[int]]) -> None:
    """Once what `dumps(..., external=...)` handed the shell is durable — `written` maps the id of each
    join it stored to the indices of the results among that — let go of it in memory: those results,
    the children's inputs beyond a window, and a Map's input unless its ItemSelector reads it; attach
    `join_store(join_id)`, through which a step reads them back. Joins of later steps are left alone."""
    for frame, name, join in _written_joins(snapshot, written):
        if join.store is None:
            join.store = join_store(join.id)
        join.reader = None
        for index in written[join.id]:
            join.results.pop(index, None)
        join.texts.clear()
        if len(join.inputs) > join.window:
            join.inputs.clear()
        if not join.selector_reads_input:
            join.source = STORED
            if name == "join" and join.input_is_source:
                frame.state_input = STORED


def join_ids(snapshot: Snapshot) -> set[str]:
    """The ids of the joins the snapshot's frames hold (running ones, and those kept for a redrive): the
    only joins whose data a step may read back. The data of any other join of the execution has ended."""
    return {join.id for frame in snapshot.frames.values() for name in _JOIN_VALUED
            if (join := getattr(frame, name)) is not None and join.id}


def _written_joins(snapshot: Snapshot, written: Mapping[str, Iterable[int]]) -> Iterator[tuple[Frame, str, Join]]:
    """(frame, field name, join) of every join of the snapshot named in `written`."""
    for frame in snapshot.frames.values():
        for name in _JOIN_VALUED:
            join = getattr(frame, name)
            if join is not None and join.id in written:
                yield frame, name, join


@dataclass(frozen=True)
class JoinApart:
    """A join whose data a snapshot's text leaves to the shell (`dumps(..., external=...)`): the shell
    stored its input with it, and the inputs of the children not started then."""

    join_id: str
    next_child: int | None  # the child a step starts next (its input is stored apart), if any


@dataclass(frozen=True)
class Outline:
    """What a stored snapshot's text says is stored beside it, for the shell to check against its rows."""

    execution_arn: str
    last_event_id: int  # the last event of its history
    tasks: frozenset[str]
    timers: frozenset[str]
    frame_ids: frozenset[str]  # the frames `dumps` handed to `frame_text`
    joins: list[JoinApart]  # those of the frames in the text itself (the root)


def outline(text: str) -> Outline:
    """The outline of a snapshot's text as `dumps` wrote it; raises ValueError, KeyError or TypeError
    for text that is not one."""
    body = json.loads(text)
    return Outline(execution_arn=body["execution"]["execution_arn"], last_event_id=body["next_event_id"] - 1,
                   tasks=frozenset(body["tasks"]), timers=frozenset(body["timers"]),
                   frame_ids=frozenset(body.get("frame_ids") or ()),
                   joins=[join for data in body["frames"].values() for join in _joins_apart(data)])


def frame_joins(text: str) -> list[JoinApart]:
    """The joins stored apart of a frame's text as `dumps` handed it to `frame_text`."""
    return list(_joins_apart(json.loads(text)))


def _joins_apart(frame: dict[str, Any]) -> Iterator[JoinApart]:
    for name in _JOIN_VALUED:
        data = frame.get(name)
        if not data or data.get("inputs") is not None:
            continue  # no join, or one held in the text (see `_load_join`)
        # Only the running join starts children; one kept for a redrive is read back only as results.
        order, at = data.get("order"), data.get("next_index", 0)
        count = len(order) if order is not None else data.get("size", data.get("external_size", 0))
        starts_next = name == "join" and at < count
        yield JoinApart(data["id"], (order[at] if order is not None else at) if starts_next else None)
