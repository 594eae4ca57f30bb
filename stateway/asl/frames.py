"""An execution's durable state as data: its frames, their joins, and the snapshot that holds them."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stateway.asl import jsontext
from stateway.asl.child_names import child_execution_name
from stateway.asl.events import ExecutionInfo
from stateway.asl.resources import ResourceRef

RUNNING = "RUNNING"
# The statuses a redrive continues an execution from (RedriveExecution refuses any other).
REDRIVABLE_STATUSES = ("FAILED", "ABORTED", "TIMED_OUT")
# RedriveExecution's redrivable period: 14 days from the end of an execution — the parent's, and each
# Standard child execution's of a Map Run that a redrive of the parent redrives.
REDRIVABLE_PERIOD_MS = 14 * 24 * 3600 * 1000


class _Marker:
    """A named placeholder for a value that is not in memory."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# `Snapshot.input` before anything parsed the execution's input text.
UNPARSED: Any = _Marker("UNPARSED")
# A join's `source`, or its waiting frame's `state_input`, that the shell stored apart and let go of:
# `Join.map_source()` reads it back.
STORED: Any = _Marker("STORED")
# How many children's inputs a join stored apart reads back at a time (at least; see `Join.window`).
ITEM_WINDOW = 64
# Children's inputs kept as text (`Join.texts`) are JSON arrays of this many consecutive ones, each
# starting at a multiple of it; the shell stores them so too.
ITEMS_PER_RUN = 64


class JoinStore(Protocol):
    """Reads back the data the shell stored apart for one join (`snapshot.loads` and `snapshot.release`
    attach it): the core calls it only for values it let go of, and performs no I/O of its own."""

    def items(self, start: int, stop: int) -> dict[int, Any]:
        """The stored inputs of the children numbered `start` to `stop - 1`."""
        ...

    def results(self) -> Iterable[list[tuple[int, Any]]]:
        """The stored results of the children that succeeded, a row at a time: each row's (index,
        result) pairs in ascending order of index, the rows in ascending order of their first index."""
        ...

    def source(self) -> Any:
        """The Map state's effective input."""
        ...


@dataclass(slots=True)
class Join:
    """A Parallel or Map state waiting for its child frames, kept as data on the parent frame.

    Children's inputs and results are held by index: all of them, or — once the shell has stored
    them apart and let go of them (`snapshot.release`) — only the inputs of the next children to start
    and the results that are not stored yet; `store` reads the others back when they are needed.
    """

    kind: str  # "parallel" | "map"
    size: int  # how many children: Parallel branches or Map items
    inputs: dict[int, Any]  # input of each child not started yet (branch input, or the selected Map item)
    results: dict[int, Any]  # result of each child that succeeded
    # Inputs of children not started yet that are still JSON text, as runs (`ITEMS_PER_RUN`) by the
    # index of the first: the items a Map selected from an input it kept as text.
    texts: dict[int, str] = field(default_factory=dict)
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
    order: list[int] | None = None  # a redrive runs only these children; None means all, in order
    id: str = ""  # unique in its execution: the shell may store inputs and results apart under it
    input_is_source: bool = False  # the waiting frame's state input is `source` (stored once, for both)
    selector_reads_input: bool = False  # the ItemSelector may read `source`: it stays in memory
    store: JoinStore | None = None  # what the shell stored apart; None while everything is in memory
    # Where the inputs that are neither in memory nor stored apart yet are read from: the items a shell's
    # ItemReader stored as it read them (`ItemsRead.store`), until the join's data is stored apart too.
    reader: JoinStore | None = None
    # A batched distributed Map (ItemBatcher): how many items each child (batch) holds, and how many
    # items the children that ended held; None when each child is one item.
    batch_sizes: list[int] | None = None
    items_succeeded: int = 0
    items_failed: int = 0
    # A distributed Map's Map Run, and how many times it was redriven: a redrive of the execution
    # redrives this Map Run (MapRunRedriven) instead of starting another.
    map_run_arn: str = ""
    map_run_redrives: int = 0
    # A distributed Map's child executions are EXPRESS (a redrive starts the unsuccessful ones again
    # from their first state) rather than STANDARD (a redrive continues each from where it stopped).
    express_children: bool = False
    # The children that ran and did not succeed (failed, or cut short while they ran), by index: the id
    # of the child's frame, kept ended in the snapshot (`Frame.stopped_ms` set) so that a redrive
    # continues it from the state where it stopped (`ContainerStates.keeps`) — or "" for a distributed
    # Map's EXPRESS child, which a redrive runs from its start.
    unsuccessful: dict[int, str] = field(default_factory=dict)
    # In a redriven Map Run, the unsuccessful children of the attempts before that have not run again
    # yet (DescribeMapRun's `pendingRedrive`), by index as in `unsuccessful`: each leaves as it starts.
    redriving: dict[int, str] = field(default_factory=dict)
    # Children that failed for good: a redrive found them not redrivable (a Standard child execution that
    # ended more than `REDRIVABLE_PERIOD_MS` before). Every later attempt counts them as failed and never
    # runs them (DescribeMapRun's `failuresNotRedrivable`).
    not_redrivable: list[int] = field(default_factory=list)

    @property
    def child_attempt(self) -> int:
        """The attempt whose names a distributed Map's child executions take: for EXPRESS children, which
        a redrive of the Map Run starts anew as other executions, its redrive count (a child runs within
        the attempt that started it); STANDARD ones keep theirs: 0."""
        return self.map_run_redrives if self.express_children else 0

    def child_name(self, index: int) -> str:
        """The name of the child execution of a distributed Map that runs its item (or batch) `index`."""
        return child_execution_name(self.map_run_arn, index, self.child_attempt)

    @property
    def window(self) -> int:
        """How many inputs of children not started yet are kept in memory (or read back) at once."""
        return max(ITEM_WINDOW, 2 * self.max_concurrency)

    def item(self, index: int) -> Any:
        """Take child `index`'s input (a child starts once), reading a window of them back if needed."""
        if index not in self.inputs:
            first = index - index % ITEMS_PER_RUN  # the run that holds it, if it is still text
            run = self.texts.pop(first, None)
            if run is not None:
                self.inputs.update(enumerate(jsontext.loads(run), first))
            elif self.store is not None or self.reader is not None:
                stored = self.store or self.reader
                assert stored is not None
                self.inputs.update(stored.items(index, min(self.size, index + self.window)))
        return self.inputs.pop(index)

    def map_source(self) -> Any:
        """The Map state's effective input, read back if it was let go of (or kept as text)."""
        if self.source is STORED:
            assert self.store is not None
            self.source = self.store.source()
        self.source = jsontext.materialize(self.source)
        return self.source

    def succeeded_results(self) -> dict[int, Any]:
        """The result of every child that succeeded, by index."""
        found: dict[int, Any] = {}
        for row in self.store.results() if self.store is not None else ():
            found.update(row)
        found.update(self.results)
        return found

    def result_list(self) -> list[Any]:
        """One result per child, in order: null for a child that failed within the tolerated failures."""
        out: list[Any] = [None] * self.size
        for row in self.store.results() if self.store is not None else ():
            for index, value in row:
                out[index] = value
        for index, value in self.results.items():
            out[index] = jsontext.materialize(value)
        return out

    def result_text(self) -> str:
        """`result_list()` as JSON text, built a stored row at a time: the results never exist as
        objects all at once, only the text does. Results are merged in order of index from the rows
        (each sorted, the rows by their first index) and from memory, which wins over a stored copy."""
        pending: list[tuple[int, int, Any]] = [(index, 0, value) for index, value in self.results.items()]
        heapq.heapify(pending)
        chunks: list[str] = []  # one per stored row: not a string per result
        written = 0

        def write_up_to(stop: int) -> None:
            nonlocal written
            parts = []
            while written < stop:
                if pending and pending[0][0] == written:
                    parts.append(jsontext.dumps(heapq.heappop(pending)[2]))
                    while pending and pending[0][0] == written:  # the same result, stored and in memory
                        heapq.heappop(pending)
                else:
                    parts.append("null")  # a child that failed within the tolerated failures
                written += 1
            if parts:
                chunks.append(",".join(parts))

        for number, row in enumerate(self.store.results() if self.store is not None else (), 1):
            if row:
                write_up_to(row[0][0])  # no later row holds an index below this row's first
                for index, value in row:
                    heapq.heappush(pending, (index, number, value))
        write_up_to(self.size)
        return "[" + ",".join(chunks) + "]"


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
    silent: bool = False  # in a distributed Map's child execution: its events are not in this history
    failed_join: Join | None = None  # a failed Map/Parallel's children, kept so a redrive re-runs only failures
    redrive_join: Join | None = None
    # A child that stopped unsuccessfully and is kept for a redrive (its join's `unsuccessful`): when it
    # stopped, which decides whether a redrive can still continue a Standard child execution of a Map Run.
    stopped_ms: int = 0
    # Where this frame stands in the execution, independently of the order in which its frames moved:
    # `path` names it by its ancestors' steps and its index ("" for the root, "3.72" for iteration 72
    # of a Map its parent entered at step 3), `step` counts the states it entered and the retries it
    # made. Together they name a task's run in its idempotency key: the same after a crash recomputes
    # a round from events arriving in another order (frame ids are numbered in that order).
    path: str = ""
    step: int = 0
    # A distributed Map's child execution, on the frame that runs it (the Map Run's child): when it
    # started (None: the frame runs no child execution), how often a redrive of its Map Run continued it,
    # for `$$.Execution` inside it, and its input, kept only for a machine that reads `$$.Execution.Input`.
    # Its name is not kept: it is made from its Map Run, attempt and index (`Join.child_name`), so the
    # same after a crash and a restart.
    execution_start_ms: int | None = None
    execution_redrives: int = 0
    execution_input: Any = None
    # A STANDARD child execution of a Map Run the shell stores, on the frame that runs it: the id of the next
    # event of the child's own history (numbered from 1 within it), which its frames' events go to (0: its
    # events are not recorded — an EXPRESS child, one of a Map Run inside another child execution, or a
    # child started before its events were).
    execution_next_event_id: int = 0

    @property
    def runs_child_execution(self) -> bool:
        return self.execution_start_ms is not None


def frame_path(frame: Frame) -> str:
    """`frame.path`; a branch or iteration stored before frames had paths is named by its id instead, so that
    it can share no name with another."""
    return frame.path or ("" if frame.parent is None else frame.id)


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
    # Frames a paused step left to run, in order (only executions without a history quota pause).
    ready: list[str] = field(default_factory=list)


ROOT = "root"
