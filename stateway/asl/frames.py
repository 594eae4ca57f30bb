"""An execution's durable state as data: its frames, their joins, and the snapshot that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stateway.asl.events import ExecutionInfo
from stateway.asl.resources import ResourceRef

RUNNING = "RUNNING"


class _Unparsed:
    """The type of UNPARSED."""

    def __repr__(self) -> str:
        return "UNPARSED"


# `Snapshot.input` before anything parsed the execution's input text.
UNPARSED: Any = _Unparsed()


@dataclass(slots=True)
class Join:
    """A Parallel or Map state waiting for its child frames, kept as data on the parent frame."""

    kind: str  # "parallel" | "map"
    inputs: list[Any]  # one input per child (branch input, or the selected Map item)
    results: list[Any]
    next_index: int = 0
    running: list[str] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    max_concurrency: int = 0
    tolerated_count: int | None = None
    tolerated_percentage: float | None = None
    map_pointer: int = 0  # previousEventId for the next MapIterationStarted
    source: Any = None  # the Map state's effective input, which ItemSelector reads
    distributed: bool = False
    succeeded_indices: list[int] = field(default_factory=list)
    order: list[int] | None = None  # a redrive runs only these children; None means all, in order
    id: str = ""  # unique in its execution: the shell may store inputs and results apart under it


@dataclass(slots=True)
class Frame:
    """One thread of control: the root, a Parallel branch or a Map iteration."""

    id: str
    program: str
    parent: str | None = None
    index: int = 0
    state: str | None = None
    state_input: Any = None  # the raw input of the current state
    effective_input: Any = None  # after InputPath (and Parameters for Parallel)
    entered_event_id: int = 0
    entered_prev: int = 0  # previousEventId of the StateEntered event
    entered_time_ms: int = 0
    retry_count: int = 0
    retry_attempts: dict[int, int] = field(default_factory=dict)
    waiting: str | None = None  # "task" | "timer" | "retry" | "children"
    task_id: str | None = None
    task_resource: ResourceRef | None = None
    task_submitted: bool = False
    timer_id: str | None = None
    join: Join | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    prev: int = 0  # previousEventId for this frame's next event
    done: bool = False
    silent: bool = False  # a distributed Map's iteration: its events are not in this history
    failed_join: Join | None = None  # a failed Map/Parallel's children, kept so a redrive re-runs only failures
    redrive_join: Join | None = None


@dataclass(slots=True)
class Snapshot:
    """All durable state of one execution."""

    execution: ExecutionInfo
    # The parsed execution input (`$$.Execution.Input`), kept only by machines that can read it: the
    # interpreter parses `execution.input_text` when it is first needed.
    input: Any = UNPARSED
    status: str = RUNNING
    next_event_id: int = 1
    seq: int = 0
    frames: dict[str, Frame] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)  # task id -> frame id
    timers: dict[str, str] = field(default_factory=dict)  # timer id -> frame id ("" = execution)
    output: str | None = None
    error: str | None = None
    cause: str | None = None


ROOT = "root"
