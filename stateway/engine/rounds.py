"""A decider round as data, and how the writer thread stores a batch of rounds: their net effect."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from stateway.asl import interpreter
from stateway.asl.events import (
    ChildExecutionChanged,
    CompleteExecution,
    MapRunEnded,
    ScheduleTask,
    StartTimer,
    StopRequested,
)
from stateway.engine import deletion, invocations, map_runs
from stateway.engine.codec import event_to_json
from stateway.engine.errors import ApiError
from stateway.engine.invocations import Ran
from stateway.engine.join_data import JoinRow
from stateway.engine.service import NewExecution
from stateway.workers.function_task import EventInvocation


@dataclass
class Round:
    """Everything one decider round will write in its single transaction."""

    snapshots: dict[str, interpreter.Snapshot] = field(default_factory=dict)
    # Per execution advanced in the round: (execution, first event id, last event id, the events as the JSON
    # text of an array of `[id, previous id, type, timestamp, details]` arrays).
    history: list[tuple[str, int, int, str]] = field(default_factory=list)
    # The same for the STANDARD child executions of their Map Runs, per step that added to a child's history:
    # (Map Run, index of the child's item, first event id, last event id, the events' text).
    child_history: list[tuple[str, int, int, int, str]] = field(default_factory=list)
    map_run_events: list[map_runs.EventRow] = field(default_factory=list)  # the events Map Runs follow
    map_runs_ended: list[tuple[str, MapRunEnded]] = field(default_factory=list)  # and how they ended
    # Their child executions that started, were redriven or ended, in order (ListExecutions of a Map Run).
    map_run_children: list[ChildExecutionChanged] = field(default_factory=list)
    tasks: list[tuple[str, ScheduleTask]] = field(default_factory=list)
    deleted_tasks: list[tuple[str, str]] = field(default_factory=list)
    started_tasks: list[tuple[str, str]] = field(default_factory=list)
    # Tasks that wait from this round on for an answer from elsewhere (their token's, a nested execution's):
    # marked WAITING in the transaction that records the event they wait after, TaskSubmitted (or a token
    # task's TaskStarted when there is nothing to call), so that a restart finds both or neither.
    waiting_tasks: list[tuple[str, str]] = field(default_factory=list)
    timers: list[tuple[str, StartTimer]] = field(default_factory=list)
    deleted_timers: list[tuple[str, str]] = field(default_factory=list)
    inbox_done: list[int] = field(default_factory=list)
    inbox_new: list[tuple[str, str]] = field(default_factory=list)
    completed: list[tuple[str, CompleteExecution]] = field(default_factory=list)
    redriven: list[tuple[int, int, str]] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    timed_out: list[tuple[str, str]] = field(default_factory=list)  # tasks ended by their deadlines
    starts: dict[str, NewExecution] = field(default_factory=dict)  # by ARN: their first step is in this round
    # By ARN: the timestamp of the event that ended the execution in this round, its stored stopDate.
    stop_ms: dict[str, int] = field(default_factory=dict)
    # StopExecution calls waiting for this round (see `StopWaiter`); kept when an execution's share is undone.
    stops: list[StopWaiter] = field(default_factory=list)
    # Event invocations answered 202 in this round, by (execution, task): stored with that answer.
    invocations: list[tuple[str, str, EventInvocation]] = field(default_factory=list)
    ran: list[Ran] = field(default_factory=list)  # stored invocations the workers ran

    def mark(self) -> tuple[int, ...]:
        """Where the lists stand now, to `undo` one execution's share of the round back to."""
        return tuple(map(len, _shares(self)))

    def undo(self, mark: tuple[int, ...], arn: str) -> None:
        """Drop what one execution added since `mark` (its starts stay listed)."""
        self.snapshots.pop(arn, None)
        self.stop_ms.pop(arn, None)
        for items, length in zip(_shares(self), mark, strict=True):
            del items[length:]


# The lists of a Round that each execution advanced in it appends to.
SHARES = ("history", "child_history", "map_run_events", "map_runs_ended", "map_run_children", "tasks",
          "deleted_tasks", "started_tasks", "waiting_tasks", "timers", "deleted_timers", "inbox_done", "inbox_new",
          "completed", "redriven", "cancelled", "timed_out", "invocations")
_shares = attrgetter(*SHARES)


@dataclass
class Apart:
    """What one commit stores apart from the execution snapshots: join data and frame rows."""

    join_rows: list[JoinRow] = field(default_factory=list)
    frame_rows: list[tuple[str, str, str]] = field(default_factory=list)
    frames_gone: list[tuple[str, str]] = field(default_factory=list)
    joins_gone: list[tuple[str, str]] = field(default_factory=list)  # (execution, join id) of joins that ended
    frame_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    # Per execution: the joins whose data the commit stores, with the indices of the results among it.
    joins_written: dict[str, dict[str, list[int]]] = field(default_factory=dict)


class AnsweredMeanwhile(Exception):
    """A task timed out in a round was answered (SendTaskSuccess/Failure stored its answer) between the
    decider's read of the store and the round's write: the answer came first, so the batch must not
    stand — it is recomputed from the store, which applies the answer before the deadline."""


@dataclass
class StopWaiter:
    """A StopExecution handed to the decider; its caller waits on `future` for the round that applied
    it to be durable: the stopDate it stored, or None if this stop did not end the execution."""

    event: StopRequested
    future: Future[int | None]
    stop_ms: int | None = None  # set by the round that applies it


@dataclass
class StartWrite:
    """A new execution's row, written ahead of the rounds; its caller waits on `future`. `refused` is the
    API's error when its state machine was deleted (or began to be) since StartExecution looked at it: the
    row is not written, and nothing else in the transaction is undone for it."""

    new: NewExecution
    future: Future[str]
    refused: ApiError | None = None


@dataclass
class Write:
    """One round encoded for the writer thread, and what it acknowledges once it is durable."""

    work: Round
    taken: list[tuple[str, Any]]  # worker answers the round consumed: given back if it fails
    now: int
    states: list[dict[str, Any]]
    apart: Apart
    finished: list[tuple[str]]
    tasks: list[tuple[Any, ...]]
    timers: list[tuple[str, str, int, str]]
    map_runs: map_runs.Changes
    invocations: invocations.Changes
    stopped_children: bool = False
    size: int = 0  # characters of text it writes: what it holds in memory until then
    # Tasks the decider hands over only once the round is durable (nested executions, tokens, …).
    durable_tasks: bool = False

    @property
    def acknowledges_work(self) -> bool:
        """Whether acknowledging the round does more than forget ended executions: dispatch tasks or
        invocations, release join data, read the inbox it wrote to."""
        return self.durable_tasks or bool(self.work.inbox_new) or self.stopped_children \
            or any(self.apart.joins_written.values()) or bool(self.work.invocations)

    @property
    def prompt(self) -> bool:
        """Whether someone waits for the round to be durable — it ends an execution, applies a stop or an
        inbox row, or hands work on — so that it is written without the writer's delay."""
        work = self.work
        return bool(work.completed or work.stops or work.inbox_done or work.cancelled) or self.acknowledges_work


class NetRows:
    """The net change a batch of rounds makes to rows keyed by (execution, id): rows created and
    removed within the batch are never written; updates of rows created in it fold into the insert.
    With `upserts`, an insert may replace a row stored before the batch, so a delete is always kept."""

    def __init__(self, *, upserts: bool = False) -> None:
        self.upserts = upserts
        self.inserted: dict[tuple[str, str], tuple[Any, ...]] = {}
        # Rows stored before the batch, in order, with how each is updated (the last update's `how`).
        self.updated: dict[tuple[str, str], Any] = {}
        self.deleted: list[tuple[str, str]] = []
        self.vanished: list[tuple[Any, ...]] = []  # rows created and removed within the batch

    def insert(self, key: tuple[str, str], row: tuple[Any, ...]) -> None:
        self.inserted[key] = row

    def update(self, key: tuple[str, str], change: Any, how: Any = None) -> None:
        """Apply `change` to a row created in the batch; a row stored before it is updated by the statement
        that `how` names."""
        row = self.inserted.get(key)
        if row is None:
            self.updated[key] = how
        else:
            self.inserted[key] = change(row)

    def delete(self, key: tuple[str, str]) -> None:
        self.updated.pop(key, None)  # an update of a row deleted in the same batch is moot
        row = self.inserted.pop(key, None)
        if row is None or self.upserts:
            self.deleted.append(key)
        else:
            self.vanished.append(row)

    def write(self, db: Any, delete: str, insert: str) -> None:
        """Deletes, then inserts (ids are never reused, so no row is removed after it is written)."""
        if self.deleted:
            db.executemany(delete, self.deleted)
        if self.inserted:
            db.executemany(insert, list(self.inserted.values()))


@dataclass
class Written:
    """What the writer knows of rows it wrote itself, to skip statements that would find nothing.
    Whatever is not known is looked up, so a batch rolled back after changing this does no harm."""

    tokenless_tasks: set[tuple[str, str]] = field(default_factory=set)  # task rows that never get a token
    joinless: set[str] = field(default_factory=set)  # executions started here that have no join rows


def write_batch(db: Any, q: dict[str, str], batch: Sequence[Write | StartWrite], known: Written) -> None:
    """Store a batch of starts or rounds in the writer's transaction (in the writer thread).

    The batch commits as a whole, so only its net effect needs writing: one snapshot per
    execution (its last), one row per changed frame, and no row at all for a task, timer or frame
    that was created and removed within the batch — a fast chain of steps then writes little more
    than its history."""
    history: dict[str, list[tuple[str, int, int, str]]] = defaultdict(list)  # execution -> its steps, in order
    states: dict[str, dict[str, Any]] = {}
    join_rows: list[JoinRow] = []
    joins_gone: list[tuple[str, str]] = []
    frames = NetRows(upserts=True)  # a frame's row is rewritten whenever its text changes
    finished: list[tuple[str]] = []
    redriven: list[tuple[int, int, str]] = []
    tasks = NetRows()
    timers = NetRows()
    inbox_done: list[tuple[int]] = []
    rounds = [write for write in batch if isinstance(write, Write)]
    children = map_runs.ChildRows()  # the rows of Map Runs' child executions: the batch's net change
    # Their histories: each child's pieces, in order, to be joined into one chunk per child.
    child_history: dict[tuple[str, int], list[tuple[str, int, int, int, str]]] = defaultdict(list)
    for write in batch:
        if isinstance(write, StartWrite):
            try:
                write.new.insert(db, q)
            except ApiError as refusal:  # checked before anything is written: nothing to undo
                write.refused = refusal
                continue
            known.joinless.add(write.new.arn)
    for write in rounds:
        work = write.work
        for piece in work.history:
            history[piece[0]].append(piece)
        for child_piece in work.child_history:
            child_history[(child_piece[0], child_piece[1])].append(child_piece)
        # Map Runs (DescribeMapRun/ListMapRuns): rows follow the MapRun* events and the
        # distributed Maps' joins in the snapshots, in this same transaction.
        map_runs.record(db, q, write.map_runs, children)
        invocations.record(db, q, write.invocations)
        redriven += work.redriven
        states.update((state["arn"], state) for state in write.states)
        join_rows += write.apart.join_rows
        joins_gone += write.apart.joins_gone
        for frame_row in write.apart.frame_rows:
            frames.insert((frame_row[0], frame_row[1]), frame_row)
        for key in write.apart.frames_gone:
            frames.delete(key)
        finished += write.finished
        for row in write.tasks:
            tasks.insert((row[0], row[1]), row)
        for key in work.started_tasks:
            if tasks.updated.get(key) != "WAITING":  # a task waits from then on: no later start undoes it
                tasks.update(key, lambda row: (*row[:-1], "RUNNING") if row[-1] == "SCHEDULED" else row, "RUNNING")
        for key in work.waiting_tasks:
            tasks.update(key, lambda row: (*row[:-1], "WAITING"), "WAITING")
        for key in work.deleted_tasks:
            tasks.delete(key)
        for timer_row in write.timers:
            timers.insert((timer_row[0], timer_row[1]), timer_row)
        for key in work.deleted_timers:
            timers.delete(key)
        inbox_done += [(seq,) for seq in work.inbox_done]
    children.write(db, q)
    if history:
        db.executemany(q["insert_history_chunk"], [history_chunk(arn, pieces) for arn, pieces in history.items()])
    if child_history:  # after their Map Runs' rows, which this batch may have inserted
        map_runs.write_child_history(db, q, [child_history_chunk(pieces) for pieces in child_history.values()])
    if redriven:
        db.executemany(q["mark_redriven"], redriven)
    if states:
        db.executemany(q["save_execution_state"], list(states.values()))
        if any(state["status"] != "RUNNING" for state in states.values()):
            deletion.remove_finished(db, q)  # a DELETING state machine goes with its last running execution
    if join_rows:
        known.joinless.difference_update(row[0] for row in join_rows)
        db.executemany(q["put_join_data"], join_rows)
    if joins_gone:
        db.executemany(q["delete_join"], joins_gone)
    frames.write(db, q["delete_frame"], q["put_frame"])
    # An execution that succeeded, or that no redrive can continue, needs none of its joins' data.
    with_joins = [key for key in finished if key[0] not in known.joinless]
    # Forgotten once it ends, whatever the status, or failed executions would pile up here; a redriven
    # one is simply looked up again.
    known.joinless.difference_update(arn for arn, state in states.items() if state["status"] != "RUNNING")
    if with_joins:
        db.executemany(q["delete_join_data"], with_joins)
    now = max((write.now for write in rounds), default=0)
    for key in (key for write in rounds for key in write.work.timed_out):
        if key in tasks.deleted and db.execute(q["answered_task"], key).fetchone() is not None:
            raise AnsweredMeanwhile(f"task {key[1]} of {key[0]} was answered before its timeout was stored")
    # Deleted tasks' tokens are kept a while: a late answer learns the task is gone. A task this
    # process stored without a token needs no look-up (most tasks have none).
    with_token = [(now, *key) for key in tasks.deleted if key not in known.tokenless_tasks]
    if with_token:
        db.executemany(q["bury_task_token"], with_token)
    known.tokenless_tasks.difference_update(tasks.deleted)
    # An activity task gets its token when a worker claims it (GetActivityTask), not here.
    known.tokenless_tasks.update(key for key, row in tasks.inserted.items() if row[3] is None and row[4] is None)
    if tasks.updated:
        for how, query in (("RUNNING", "task_started"), ("WAITING", "task_waiting")):
            keys = [key for key, status in tasks.updated.items() if status == how]
            if keys:
                db.executemany(q[query], keys)
    tasks.write(db, q["delete_task"], q["insert_task"])
    # A token task answered within the batch never had a row: its token is buried all the same.
    buried = [(row[3], now) for row in tasks.vanished if row[3] is not None]
    if buried:
        db.executemany(q["bury_token"], buried)
    timers.write(db, q["delete_timer"], q["insert_timer"])
    if inbox_done:
        db.executemany(q["delete_inbox"], inbox_done)
    for write in rounds:
        now = write.now
        for parent_arn, task_id in write.work.cancelled:
            # A `.sync` task that is cancelled (stop, timeout, a failed sibling) stops its child.
            for (child_arn,) in db.execute(q["running_children"], (parent_arn, task_id)).fetchall():
                db.execute(q["insert_inbox"], {"execution_arn": child_arn, "created_ms": now,
                                               "event": event_to_json(StopRequested())})
                write.stopped_children = True
        for parent_arn, event_text in write.work.inbox_new:
            db.execute(q["insert_inbox"], {"execution_arn": parent_arn, "event": event_text, "created_ms": now})


def history_chunk(arn: str, pieces: list[tuple[str, int, int, str]]) -> tuple[str, int, int, str]:
    """One history_chunks row: the events of an execution's steps in the batch as one JSON array of
    `[id, previous id, type, timestamp, details]` arrays, joined from each step's array as it is."""
    if len(pieces) == 1:  # one step: its text is the row's (no copy of a step that recorded a large payload)
        return arn, pieces[0][2], pieces[0][1], pieces[0][3]
    return arn, pieces[-1][2], pieces[0][1], "[" + ",".join([piece[3][1:-1] for piece in pieces]) + "]"


def child_history_chunk(pieces: list[tuple[str, int, int, int, str]]) -> tuple[str, int, int, int, str]:
    """One map_run_child_history row — (Map Run, the child's index, last event id, first event id, events) —
    from a child execution's pieces of history in the batch, joined as `history_chunk` joins an execution's."""
    map_run_arn, index = pieces[0][0], pieces[0][1]
    _, last_id, first_id, events = history_chunk(map_run_arn, [(map_run_arn, *piece[2:]) for piece in pieces])
    return map_run_arn, index, last_id, first_id, events
