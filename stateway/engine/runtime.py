"""The engine: a decider that applies events to executions in group commits, timers, and workers.

One decider thread owns the transitions. Each round it gathers what happened — worker results,
inbox rows (API calls, other processes), due timers and expired task deadlines — applies them to
every affected execution through the pure core, and writes all new snapshots, history events, task
rows and timer rows in ONE transaction. A crash before that commit recomputes the round from the
store; a crash after it finds every command already stored. Tasks are then handed to workers.

The transaction is written by the writer thread (`engine/writer.py`) while the decider computes the
next round, so one round's fsync overlaps the next round's work. Nothing is acknowledged before its
round is durable: waiters are woken and out-of-process tasks dispatched only then. A start is stored
by the writer ahead of the rounds (see `Writer.submit(urgent=True)`), its first step in a later round;
an execution stored without a snapshot is started from the store after a crash or a failed write.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from functools import partial
from typing import Any

from stateway.asl import history as asl_history
from stateway.asl import interpreter, jsontext, snapshot
from stateway.asl.events import (
    CancelTask,
    CancelTimer,
    ChildExecutionChanged,
    CompleteExecution,
    ExecutionInfo,
    ItemsRead,
    MapRunEnded,
    RedriveRequested,
    ScheduleTask,
    StartTimer,
    StateMachineDeleted,
    StopRequested,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stateway.asl.frames import REDRIVABLE_STATUSES
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.asl.timestamps import clamp_ms
from stateway.engine import arns, consistency, invocations, map_runs, sweep
from stateway.engine.activity_bell import ActivityBell
from stateway.engine.codec import START, command_from_json, command_to_json, event_from_json, event_to_json
from stateway.engine.dispatch import TaskDispatcher, Waiting
from stateway.engine.env import ShellEnv
from stateway.engine.errors import ExecutionAlreadyExists
from stateway.engine.join_data import StoredJoin, join_rows
from stateway.engine.pool import Limit, WorkerPool
from stateway.engine.rounds import (
    SHARES,
    AnsweredMeanwhile,
    Apart,
    Round,
    StartWrite,
    StopWaiter,
    Write,
    Written,
    write_batch,
)
from stateway.engine.service import (
    MAX_DURATION_SECONDS,
    NewExecution,
    Service,
    execution_description,
    not_redrivable_reason,
    now_ms,
)
from stateway.engine.writer import Writer
from stateway.objects import ObjectStore
from stateway.objects.directory import DirectoryObjectStore
from stateway.store.sqlite import SqliteStore, open_store
from stateway.workers.function_task import EventInvocation
from stateway.workers.python import DEFAULT_TIMEOUT_SECONDS, Handler, valid_timeout


@dataclass
class _Loaded:
    machine: StateMachine
    snapshot: interpreter.Snapshot | None
    parent_task: dict[str, Any] | None


_STARTED_TASKS = SHARES.index("started_tasks")
_HISTORY, _CHILD_HISTORY = SHARES.index("history"), SHARES.index("child_history")
_TIMERS = SHARES.index("timers")
_INT64 = 2**63


def _ended_for_good(snap: interpreter.Snapshot, now: int) -> bool:
    """Whether an execution has ended and no redrive can continue it (it succeeded, or it cannot be
    redriven): its joins' data and its frames are not read again."""
    if snap.status == interpreter.RUNNING:
        return False
    execution = {"status": snap.status, "start_ms": snap.execution.start_time_ms, "stop_ms": now,
                 "last_event_id": snap.next_event_id - 1}
    return not_redrivable_reason(execution, now) is not None


def _check_storable(work: Round, mark: tuple[int, ...]) -> None:
    """Raise if the step just taken made a value the store cannot hold — text UTF-8 cannot encode, a
    time beyond a 64-bit integer: that execution is quarantined, where the value would fail every
    commit and so every execution (the known causes are escaped or clamped; this is the safety net)."""
    for piece in work.history[mark[_HISTORY]:]:
        if not piece[3].isascii():
            piece[3].encode("utf-8")
    for child_piece in work.child_history[mark[_CHILD_HISTORY]:]:
        if not child_piece[4].isascii():
            child_piece[4].encode("utf-8")
    for _arn, timer in work.timers[mark[_TIMERS]:]:
        if not -_INT64 <= timer.due_ms < _INT64:
            raise OverflowError(f"timer {timer.timer_id} is due at {timer.due_ms} ms, beyond a 64-bit integer")
# Rounds computed ahead of the store: the decider waits for the writer beyond this many (task
# functions may start before the round that scheduled them is durable; this bounds how far), or
# beyond this many characters of text (rounds of wide Maps are large: without it their backlog, not
# the executions' state, would be most of the engine's memory).
MAX_UNWRITTEN_ROUNDS = 64
MAX_UNWRITTEN_CHARS = 256 * 1024
# The longest pause between retries of a store that keeps refusing writes.
WRITE_RETRY_MAX_SECONDS = 2.0
# How often the decider sweeps the rows kept for a redrive that can no longer come (`engine/sweep.py`);
# a full batch is followed by the next at once, between rounds.
SWEEP_INTERVAL_SECONDS = 60.0
# How long a round nobody waits for may wait for others to share its commit (see `engine/writer.py`).
COMMIT_DELAY_SECONDS = 0.005


class Engine:
    """Runs executions durably on a store: `start()`, use `service`, `stop()`."""

    def __init__(self, db: str | SqliteStore = "sqlite:///stateway.db", *,
                 functions: Mapping[str, Handler] | None = None, workers: int = 8,
                 region: str = "us-east-1", account: str = "123456789012",
                 poll_interval: float = 0.25, payload_limit_bytes: int = 262_144,
                 batch_size: int = 2000, max_duration_seconds: int = MAX_DURATION_SECONDS,
                 function_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 sweep_interval_seconds: float = SWEEP_INTERVAL_SECONDS,
                 commit_delay_seconds: float = COMMIT_DELAY_SECONDS,
                 object_store: ObjectStore | str | os.PathLike[str] | None = None) -> None:
        """`function_timeout_seconds`: how long a Python function without a timeout of its own may run,
        as a task or an Event invocation;
        `object_store`: where distributed Maps' ItemReader and ResultWriter find S3's buckets — an
        `ObjectStore`, or a directory whose subdirectories are the buckets (`DirectoryObjectStore`);
        `sweep_interval_seconds`: how often the rows kept for redrives that can no longer come are swept;
        `commit_delay_seconds`: how long a round that nobody waits for may wait to share a commit."""
        from stateway.workers.registry import keyed, registered

        # Functions registered with @stateway.function, overridden by the ones passed here; a key no task
        # could name is refused before the store is opened.
        self.functions = {**registered(), **keyed(functions)}
        self.object_store = DirectoryObjectStore(object_store) if isinstance(object_store, str | os.PathLike) \
            else object_store
        self.store = db if isinstance(db, SqliteStore) else open_store(db)
        self._wake = threading.Event()
        self.service = Service(self.store, region=region, account=account, notify=self._inbox_changed)
        # The store is read for inbox rows, due timers and expired deadlines only when something may be
        # there: an in-process write said so, the earliest known due time has come, or the poll
        # interval passed (another process may have written).
        self._inbox_dirty = True
        self._next_poll = 0.0
        self._next_due_ms: int | None = 0
        self.poll_interval = poll_interval
        self.payload_limit_bytes = payload_limit_bytes
        self.batch_size = batch_size
        self.max_duration_seconds = max_duration_seconds
        self.function_timeout_seconds = valid_timeout(function_timeout_seconds)
        self.sweep_interval_seconds = sweep_interval_seconds
        self._next_sweep = 0.0  # monotonic; the first turn of the decider sweeps (start-up)
        self._results: deque[tuple[str, Any]] = deque()
        self._starts: deque[NewExecution] = deque()
        self._restarts: list[str] = []  # stored executions without a snapshot: their START is due
        self._quarantined: set[str] = set()  # executions the decider leaves alone until restart
        # State machines being deleted (DeleteStateMachine with running executions), as last read from
        # the store: their executions end at their next state transition.
        self._deleting: frozenset[str] = frozenset()
        # Per execution: the text of each frame as the store holds it now (table `frames`), so that a
        # commit rewrites only the frames that changed.
        self._frame_texts: dict[str, dict[str, str]] = {}
        # Per execution: the joins whose data the store holds (table `join_data`), so that a commit deletes
        # the data of the joins that ended.
        self._join_ids: dict[str, set[str]] = {}
        # Rounds computed but not yet durable, by execution: one with none is as the store has it.
        self._unwritten: Counter[str] = Counter()
        self._cache: dict[str, _Loaded] = {}
        self._machines: dict[str, StateMachine] = {}
        # Tasks whose TaskStarted is already in the history (their rows say RUNNING or WAITING): a task
        # re-run after a crash reports TaskStarted again, and the history must not record it twice.
        self._started: set[tuple[str, str]] = set()
        # Nested-execution tasks whose worker has not posted TaskSubmitted yet (see `_advance`).
        self.nested_in_flight: set[tuple[str, str]] = set()
        # Stored Event invocations handed to the workers, until the round that records their end is
        # durable: the store still shows them due meanwhile.
        self._invoking: set[invocations.Key] = set()
        self._done = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._pool = WorkerPool(workers, "stateway-worker")
        # Event invocations run on threads of their own, as many: however long they run (a function that
        # hangs until its timeout), the workers stay free for tasks.
        self._invocation_pool = WorkerPool(workers, "stateway-invocation")
        self._writer: Writer[Write | StartWrite] = Writer(
            self.store, self._write, self._batch_written, self._written, _write_size,
            prompt=_write_prompt, delay=commit_delay_seconds, delay_limit=MAX_UNWRITTEN_ROUNDS)
        # Callers waiting for an inbox row to be applied in a durable round (`_inbox_applied`), by its seq.
        self._inbox_waiters: dict[int, Future[None]] = {}
        # Starts not yet durable, by (state machine, name): a second start of the same name must not be
        # stored twice, nor miss the first when the store cannot show it yet.
        self._unsettled_starts: dict[tuple[str, str], StartWrite] = {}
        self._start_lock = threading.Lock()
        self._failed_writes = 0  # failed transactions in a row (see `_settle`)
        self._failed_rounds = 0  # rounds in a row that raised (see `_loop`)
        self._rounds_refused = False  # whether the last transaction of rounds failed (for `health`)
        self._last_failure: tuple[int, str] | None = None  # when, and what, for `health`
        # What the writer knows of the rows it wrote (see `write_batch`): its own, but for the item readers'
        # rows (`dispatch._ItemRows`), which change it under the store's write lock as the writer does.
        self.writer_known = Written()
        self.dispatcher = TaskDispatcher(self)
        # GetActivityTask polls waiting in this process, woken when a task of their activity is committed.
        self.activity_bell = ActivityBell()
        self.rounds = 0
        self.transitions = 0

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Engine:
        """Recover what a previous process left and start the decider thread. An Engine runs once: after
        `stop` (its writer and worker pools are closed) a new Engine takes over the store."""
        if self._running:
            return self
        if self._thread is not None:
            raise RuntimeError("this Engine was stopped and cannot be started again: create a new Engine")
        self.store.claim_engine()
        self._running = True
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="stateway-decider", daemon=True)
        self._thread.start()
        self.service.group_commit = self._start_in_round
        self.service.stop_in_round = self._stop_in_round
        self.service.inbox_applied = self._inbox_applied
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work; tasks in flight finish or stay stored to be re-run on the next start."""
        self.service.group_commit = None
        self.service.stop_in_round = None
        self.service.inbox_applied = None
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._writer.close(timeout)
        self._applied(list(self._inbox_waiters))  # nothing more is applied: no caller waits in vain
        self._pool.shutdown()
        self._invocation_pool.shutdown()
        self.store.release_engine()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """Block until the execution ends (or the timeout passes); returns DescribeExecution."""
        deadline = time.monotonic() + timeout
        with self._done:
            while True:
                row = self.store.one("describe_execution", {"arn": execution_arn})
                if row is None or row["status"] != "RUNNING":
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._done.wait(min(remaining, 0.5))
        if row is None:
            return self.service.describe_execution(execution_arn)  # raises the API's error
        return self.service.description_of(row)  # the row just read: no second read

    def _recover(self) -> None:
        """Quarantine the executions whose rows disagree; re-dispatch every other task that was stored but
        not finished: at-least-once, same idempotency key; start the executions stored without their first
        step; stop the `.sync` children nothing waits for."""
        for arn, problem in consistency.disagreements(self.store).items():
            self._quarantine(arn, f"because its stored rows disagree: {problem}")
        self._resync()
        for row in self.store.all("orphaned_children"):
            # Its parent's task timed out or was cancelled while it was being started, and the process
            # ended before the worker that started it could stop it.
            self.service.stop_execution(row["arn"])
        # A stop queued while no engine ran (or just above), or a timeout of the execution or a deadline of
        # the task that passed meanwhile, is applied by the first round, which ends the task (a stop or a
        # timeout of the execution cancels all its tasks): they are not run again meanwhile.
        now = now_ms()
        ending = {row["execution_arn"] for row in self.store.all("queued_stops")} | {
            row["execution_arn"] for row in self.store.all("due_execution_timeouts", {"now": now})}
        for row in self.store.all("unfinished_tasks", {"now": now}):
            if row["execution_arn"] not in ending and row["execution_arn"] not in self._quarantined:
                self.dispatcher.dispatch(row["execution_arn"], command_from_json(row["command"]))

    # ---- the decider ------------------------------------------------------------------------

    def _start_in_round(self, new: NewExecution) -> str:
        """Store a start ahead of the queued rounds and return once it is durable; the decider computes
        its first step once the row is stored (`_written`): a start refused in its transaction (its state
        machine deleted meanwhile) has no step to undo. A second start of the same name behaves as AWS's does."""
        key = (new.state_machine_arn, new.name)
        with self._start_lock:
            first = self._unsettled_starts.get(key)
            if first is None:
                first = self._unsettled_starts[key] = StartWrite(new, Future())
                self._writer.submit(first, urgent=True)
            elif first.new.input != new.input:
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{first.new.arn}'")
        return first.future.result(timeout=120)

    def _stop_in_round(self, execution_arn: str, event: StopRequested) -> int | None:
        """Apply a stop in the decider's next round and return once that round is durable: the stopDate
        it stored, or None if the stop did not end the execution (it had ended already, it is
        quarantined, or the engine is stopping: the caller looks at the store)."""
        waiter = StopWaiter(event, Future())
        with self._start_lock:
            if not self._running:
                return None
            self._results.append((execution_arn, waiter))
        self._wake.set()
        return waiter.future.result(timeout=120)

    def _inbox_applied(self, seq: int) -> Future[None]:
        """A future done once the inbox row `seq` has been applied in a durable round (GetActivityTask
        answers when the ActivityStarted it queued is recorded); waiting for it holds no thread."""
        future: Future[None] = Future()
        with self._start_lock:
            self._inbox_waiters[seq] = future
        # Listened for after the row was written: a round may have applied it since.
        if self.store.one("inbox_row_pending", {"seq": seq}) is None:
            self._applied([seq])
        return future

    def _applied(self, seqs: list[int]) -> None:
        """Tell who waits for these inbox rows that they are applied (or will not be, the engine stopping)."""
        with self._start_lock:
            done = [future for seq in seqs if (future := self._inbox_waiters.pop(seq, None)) is not None]
        for future in done:
            with contextlib.suppress(InvalidStateError):  # its waiter gave up and cancelled it
                future.set_result(None)

    def _written(self, item: Write | StartWrite, error: BaseException | None) -> None:
        """In the writer thread, right after the commit: answer a start's caller, wake who waits for
        an execution's end or an inbox row's effect, at once."""
        if isinstance(item, Write):
            if error is None:
                self.rounds += 1
                if item.work.completed:
                    with self._done:
                        self._done.notify_all()
                for waiter in item.work.stops:
                    waiter.future.set_result(waiter.stop_ms)
                if self._inbox_waiters and item.work.inbox_done:
                    self._applied(item.work.inbox_done)
        else:
            stored = error is None and item.refused is None
            with self._start_lock:  # one step with `_resync`'s look at the starts not yet begun
                self._unsettled_starts.pop((item.new.state_machine_arn, item.new.name), None)
                if stored:
                    self._starts.append(item.new)  # the decider computes its first step in its next round
            if stored:
                self._wake.set()
                item.future.set_result(item.new.arn)
            else:
                item.future.set_exception(error or item.refused or RuntimeError("start not stored"))

    def _batch_written(self, batch: list[Write | StartWrite], error: BaseException | None) -> None:
        """In the writer thread, once the batch is listed as finished: wake the decider only if
        acknowledging it does more than bookkeeping, which can wait for the decider's next round
        (a wake-up per commit costs the decider a round and a thread switch while it is busy)."""
        if any(isinstance(item, Write) for item in batch):
            self._rounds_refused = error is not None and not isinstance(error, AnsweredMeanwhile)
        if error is not None or any(isinstance(item, Write) and item.acknowledges_work for item in batch):
            self._wake.set()

    def post(self, execution_arn: str, event: Any) -> None:
        """A worker's answer: applied in the next round (and re-run after a crash if not yet applied)."""
        self._results.append((execution_arn, event))
        self._wake.set()

    def _loop(self) -> None:
        while self._running:
            try:
                worked = self.run_round()
            except Exception as exc:  # a failed round is recomputed from the store; the decider must live on
                traceback.print_exc(file=sys.stderr)
                self._failed_rounds += 1
                self._failed(exc)
                time.sleep(0.5)
                continue
            self._failed_rounds = 0
            if time.monotonic() >= self._next_sweep:
                worked = self._sweep() or worked
            if not worked:
                self._wake.wait(self._idle_wait())
            self._wake.clear()
        # Acknowledge what is still being written before the engine stops.
        self._writer.wait_below(1, timeout=10.0)
        self._settle()
        with self._start_lock:  # stops not applied: their callers queue them in the inbox instead
            for _, waiter in self._results:
                if isinstance(waiter, StopWaiter):
                    waiter.future.set_result(None)

    def _sweep(self) -> bool:
        """Delete a batch of the frame and join rows kept for redrives that can no longer come. The rounds
        computed so far are made durable first, so that every execution they end is judged by a later clock
        reading than the sweep's. Returns whether it deleted any."""
        self._writer.wait_below(1)
        try:
            swept = sweep.sweep(self.store, now_ms())
        except Exception:  # a store refusing writes is the rounds' concern; the sweep tries again later
            traceback.print_exc(file=sys.stderr)
            swept = 0
        self._next_sweep = time.monotonic() + (0.0 if swept >= sweep.BATCH else self.sweep_interval_seconds)
        return swept > 0

    def _inbox_changed(self) -> None:
        self._inbox_dirty = True
        self._wake.set()

    def _idle_wait(self) -> float:
        until_poll = max(0.0, self._next_poll - time.monotonic())
        if self._next_due_ms is None:
            return until_poll
        return max(0.0, min(until_poll, (self._next_due_ms - now_ms()) / 1000))

    def _due(self, due_ms: int | None) -> None:
        if due_ms is not None and (self._next_due_ms is None or due_ms < self._next_due_ms):
            self._next_due_ms = due_ms

    def run_round(self) -> bool:
        """One round: gather, advance, hand the writes to the writer thread, and acknowledge the
        rounds it has made durable since. Returns whether anything happened."""
        settled = self._settle()
        now = now_ms()
        read_store = self._inbox_dirty or time.monotonic() >= self._next_poll or (
            self._next_due_ms is not None and self._next_due_ms <= now)
        if read_store or self._writer.pending >= MAX_UNWRITTEN_ROUNDS \
                or self._writer.pending_size >= MAX_UNWRITTEN_CHARS:
            # Inbox rows, timers and deadlines are read only from a store that shows every round
            # computed so far, so that none is applied twice.
            self._writer.wait_below(1 if read_store else MAX_UNWRITTEN_ROUNDS, size=MAX_UNWRITTEN_CHARS)
            settled = self._settle() or settled
            now = now_ms()  # the wait may have taken a commit's time: the round's events happen after it
        elif not (self._results or self._starts or self._restarts):
            return settled  # the common look after a busy round: nothing came in meanwhile
        inputs: dict[str, list[tuple[Any, Any]]] = defaultdict(list)  # arn -> [(event, consumed-marker)]
        work = Round()
        self._take_starts(work)
        for new in work.starts.values():
            inputs[new.arn].append((START, None))
        for arn in self._restarts:
            inputs[arn].append((START, None))
        self._restarts = []
        taken: list[tuple[str, Any]] = []
        while self._results and len(inputs) < self.batch_size:
            arn, event = self._results.popleft()
            taken.append((arn, event))
            if isinstance(event, StopWaiter):  # a StopExecution whose caller waits for this round
                event.stop_ms = None
                work.stops.append(event)
                inputs[arn].append((event.event, ("stop", event)))
                continue
            if isinstance(event, invocations.Ran):
                work.ran.append(event)
                continue
            if isinstance(event, invocations.Queued):
                inputs[arn].append((event.outcome, ("invocation", event.invocation)))
                continue
            if isinstance(event, Waiting):
                inputs[arn].append((event.event, ("waiting", None)))
                continue
            inputs[arn].append((event, None))
            if self.nested_in_flight and not isinstance(event, TaskStarted):
                self.nested_in_flight.discard((arn, getattr(event, "task_id", "")))
        if read_store:
            self._read_store(now, inputs)
        if not inputs and not work.starts and not work.ran:
            return settled
        # The round's clock was read before the starts it takes had arrived: an execution's first events
        # are never older than its startDate.
        env = ShellEnv(max([now, *(new.start_ms for new in work.starts.values())]), self.payload_limit_bytes)
        try:
            for arn, items in inputs.items():
                self._advance_isolated(arn, items, env, work)
            # Python functions start now, while this round is encoded and written (a worker takes a
            # while to wake): their answers are applied in a later round. If the round is not stored,
            # the recomputed one schedules the same tasks, under the same idempotency keys (task
            # functions are at-least-once in any case).
            # A task cancelled in the round that scheduled it (a stop applied after its step) never runs.
            work.tasks = [(arn, c) for arn, c in work.tasks if c.task_id in work.snapshots[arn].tasks]
            durable_tasks = False
            for arn, command in work.tasks:
                if self.dispatcher.runs_in_process(command):
                    self.dispatcher.dispatch(arn, command)
                else:
                    durable_tasks = True
            write = self._prepare(work, taken)
        except Exception:
            # Nothing of this round is stored: give the workers' answers back and reload from the
            # store everything it changed in memory (its starts are begun again from their rows).
            self._results.extendleft(reversed(taken))
            self._writer.wait_below(1)
            self._settle()
            self._resync()
            raise
        write.durable_tasks = durable_tasks
        self._writer.submit(write)
        return True

    def _settle(self) -> bool:
        """Acknowledge the rounds the writer has made durable; after a failed one, recompute.
        Returns whether any round was settled."""
        done = self._writer.finished()
        if not done:
            return False
        failure = next((error for _, error in done if error is not None), None)
        if failure is None:
            self._failed_writes = 0
            for write, _ in done:
                self._acknowledge(write)
            return True
        # The failed round and every round after it were not stored (the writer refuses the rest
        # until `reset`): wait for all of them, then start again from the store.
        self._writer.wait_below(1)
        done += self._writer.finished()
        given_back: list[tuple[str, Any]] = []
        for write, error in done:
            if error is None:
                self._acknowledge(write)
            elif isinstance(write, Write):
                given_back.extend(write.taken)
        self._results.extendleft(reversed(given_back))
        self._resync()
        if isinstance(failure, AnsweredMeanwhile):
            self._writer.reset()  # no fault: recomputed, the answer is applied before the deadline
            return True
        traceback.print_exception(failure, file=sys.stderr)
        self._failed(failure)
        # A store that keeps failing (a full or broken disk) is retried with growing pauses, not in a
        # tight loop; the first retry comes at once, as a one-off failure deserves.
        self._failed_writes += 1
        if self._failed_writes > 1:
            time.sleep(min(WRITE_RETRY_MAX_SECONDS, 0.05 * 2 ** (self._failed_writes - 2)))
        self._writer.reset()
        return True

    def _acknowledge(self, write: Write | StartWrite) -> None:
        """A round is durable: dispatch its out-of-process tasks and the invocations it stored, forget
        the executions it ended."""
        if isinstance(write, StartWrite):
            return  # its caller was answered by the writer thread
        work = write.work
        self._release(write.apart)
        for arn, command in work.tasks:
            if not self.dispatcher.runs_in_process(command):
                self.dispatcher.dispatch(arn, command)
        for arn, task_id, invocation in work.invocations:
            self._invoke((arn, task_id), invocation, 0)
        self._invoking.difference_update(ran.key for ran in work.ran)  # deleted, or stored with a later due time
        for arn, _ in work.completed:
            self._cache.pop(arn, None)
        for arn in work.snapshots:
            self._unwritten[arn] -= 1
            if self._unwritten[arn] <= 0:
                del self._unwritten[arn]
                self._forget_if_waiting(arn)
        if work.inbox_new or write.stopped_children:
            self._inbox_changed()

    def _failed(self, error: BaseException) -> None:
        self._last_failure = (now_ms(), f"{type(error).__name__}: {error}")

    def health(self) -> dict[str, Any]:
        """What `GET /health` reports: `ok`; `degraded` while executions are quarantined (the rest
        run on); `failing` while the store refuses the engine's writes or its rounds keep failing, or
        the engine is not running — nothing moves then."""
        failing = self._rounds_refused or self._failed_rounds > 0 or not self._running
        report: dict[str, Any] = {
            "status": "failing" if failing else "degraded" if self._quarantined else "ok",
            "running": self._running,
            "storeRefusesWrites": self._rounds_refused,
            "failedRoundsInARow": self._failed_rounds,
            "quarantinedExecutions": sorted(self._quarantined),
        }
        if self._last_failure is not None:
            report["lastFailure"] = {"timeMs": self._last_failure[0], "error": self._last_failure[1]}
        return report

    @property
    def executions_in_memory(self) -> int:
        """How many executions the decider holds in memory (the others are only rows until woken)."""
        return len(self._cache)

    def _forget_if_waiting(self, arn: str) -> None:
        """Let go of an execution that is as the store has it and waits only for what may take long
        (a Wait, a retry's back-off, a callback, an activity worker): a Wait of a year holds a row,
        not memory. What wakes it reloads it from the store, as after a restart."""
        loaded = self._cache.get(arn)
        if loaded is None or loaded.snapshot is None or loaded.snapshot.status != interpreter.RUNNING:
            return
        frames = loaded.snapshot.frames
        for frame_id in loaded.snapshot.tasks.values():
            frame = frames.get(frame_id)
            resource = frame.task_resource if frame is not None else None
            if resource is None or not (resource.wait_for_task_token or resource.kind == "activity"):
                return  # a task this engine's workers are about to answer: keep it at hand
        del self._cache[arn]
        self._frame_texts.pop(arn, None)
        self._join_ids.pop(arn, None)

    def _resync(self) -> None:
        """Forget what memory holds beyond the store: executions reload from their stored rows."""
        self._cache.clear()
        self._frame_texts.clear()
        self._join_ids.clear()
        self._unwritten.clear()
        self._started = {(row["execution_arn"], row["id"]) for row in self.store.all("started_tasks")}
        with self._start_lock:
            # A start stored but not yet taken into a round is begun from `_starts`, not a second time
            # from the store (its row is read under the lock that `_written` lists it under).
            pending = {new.arn for new in self._starts} | {w.new.arn for w in self._unsettled_starts.values()}
            self._restarts = [row["arn"] for row in self.store.all("unstarted_executions") if row["arn"] not in pending]
        self._read_deleting()

    def _read_deleting(self) -> None:
        """The state machines being deleted, from the store (a partial index: usually no row)."""
        self._deleting = frozenset(row["arn"] for row in self.store.all("deleting_state_machines"))

    def _read_store(self, now: int, inputs: dict[str, list[tuple[Any, Any]]]) -> None:
        """Inbox rows, due timers and expired task deadlines, and when the next one falls due; the Event
        invocations that fall due go to the workers."""
        self._inbox_dirty = False
        self._next_poll = time.monotonic() + self.poll_interval
        read: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
        for row in self.store.all("pending_inbox", {"limit": self.batch_size}):
            read[row["execution_arn"]].append((event_from_json(row["event"]), ("inbox", row["seq"])))
        for row in self.store.all("due_timers", {"now": now, "limit": self.batch_size}):
            read[row["execution_arn"]].append((TimerFired(row["id"]), ("timer", row["id"])))
        for row in self.store.all("expired_tasks", {"now": now, "limit": self.batch_size}):
            heartbeat = row["heartbeat_deadline_ms"] is not None and row["heartbeat_deadline_ms"] <= now
            error = "States.HeartbeatTimeout" if heartbeat else "States.Timeout"
            read[row["execution_arn"]].append((TaskTimedOut(row["id"], error), ("task", row["id"])))
        for arn, items in read.items():
            if arn not in self._quarantined:  # theirs stay stored, due, for after the restart
                inputs[arn] += items
        for row in self.store.all("due_invocations", {"now": now, "limit": self.batch_size}):
            key, invocation, attempts = invocations.from_row(row)
            if key not in self._invoking:  # queued before a restart, or due for a retry
                self._invoke(key, invocation, attempts)
        # Only what falls due later is waited for: a timer or deadline due already was read just now, or
        # belongs to a quarantined execution (waiting for it would read the store in a loop).
        dues = [v for v in (self.store.scalar(name, {"now": now})
                            for name in ("next_timer", "next_task_deadline", "next_invocation"))
                if v is not None and v < 2**62]
        self._next_due_ms = min(dues) if dues else None
        # A full batch may leave more behind: read again next round.
        if any(len(v) >= self.batch_size for v in read.values()):
            self._inbox_dirty = True
        # Read after the inbox: an answer stored after a DeleteStateMachine finds the machine DELETING.
        # (An in-process delete notifies as an inbox write does; other processes' are polled.)
        self._read_deleting()

    def _take_starts(self, work: Round) -> None:
        """The new executions whose first step this round computes."""
        while self._starts and len(work.starts) < self.batch_size:
            new = self._starts.popleft()
            work.starts[new.arn] = new
            self._cache[new.arn] = _Loaded(self._machine(new.definition), None,
                                           json.loads(new.parent_task) if new.parent_task else None)

    def _machine(self, definition: str) -> StateMachine:
        machine = self._machines.get(definition)
        if machine is None:
            machine = parse_machine(definition, validate=False).lasting_at_most(self.max_duration_seconds)
            self._machines[definition] = machine
        return machine

    def _load(self, arn: str) -> _Loaded | None:
        loaded = self._cache.get(arn)
        if loaded is not None:
            return loaded
        row = self.store.one("load_execution_state", {"arn": arn})
        if row is None or row["status"] != interpreter.RUNNING:
            # Nothing moves an execution that has ended but a redrive, which reopens its row first: an
            # event for it (a late answer, a duplicate start) is dropped without reading it, or the frame
            # and join rows it no longer has (`_ended_for_good`).
            return None
        machine = self._machine(row["definition"])
        snap = snapshot.loads(row["snapshot"], input_text=row["input"], output=row["output"],
                              frame_text=self._read_frames(arn),
                              join_store=self._join_store(arn)) if row["snapshot"] else None
        if snap is not None:
            self._join_ids[arn] = snapshot.join_ids(snap)
        parent = json.loads(row["parent_task"]) if row["parent_task"] else None
        loaded = _Loaded(machine, snap, parent)
        self._cache[arn] = loaded
        return loaded

    def _advance(self, arn: str, items: list[tuple[Any, Any]], env: ShellEnv, work: Round) -> None:
        loaded = self._load(arn)
        history: list[list[Any]] = []  # the events of all its steps this round, encoded once at the end
        for event, consumed in items:
            if consumed is not None and consumed[0] == "inbox" and isinstance(event, TaskSucceeded | TaskFailed) \
                    and (arn, event.task_id) in self.nested_in_flight:
                # A `.sync` child ended before its parent's worker recorded TaskSubmitted (the child
                # can run ahead of the store): its answer stays in the inbox until that is recorded.
                self._inbox_dirty = True
                continue
            if consumed is not None:
                kind, key = consumed
                if kind == "inbox":
                    work.inbox_done.append(key)
                elif kind == "timer":
                    work.deleted_timers.append((arn, key))
                elif kind == "task":
                    work.deleted_tasks.append((arn, key))
            if loaded is None:
                continue
            if event == START:
                if loaded.snapshot is not None:
                    continue  # already started: a duplicate inbox row after a crash
                new = work.starts.get(arn)
                info = self._new_info(new) if new is not None else self._execution_info(arn, env.now_ms)
                step = interpreter.start(loaded.machine, info, env)
                if new is None:
                    self._drop_recorded(arn, step.events)
            else:
                if loaded.snapshot is None:
                    continue
                if isinstance(event, RedriveRequested):
                    if loaded.snapshot.status not in REDRIVABLE_STATUSES:
                        continue  # not an execution a redrive continues (RedriveExecution reopens only those)
                    redrive_ms = env.now_ms if event.redrive_ms is None else event.redrive_ms
                    work.redriven.append((loaded.snapshot.execution.redrive_count + 1, redrive_ms, arn))
                elif loaded.snapshot.status != interpreter.RUNNING:
                    continue
                if isinstance(event, TaskSucceeded | TaskFailed | TaskTimedOut | ItemsRead):
                    work.deleted_tasks.append((arn, event.task_id))
                    if isinstance(event, TaskTimedOut) and event.task_id in loaded.snapshot.tasks:
                        # A `.sync` child the task waited for is stopped, as when the task is cancelled.
                        work.cancelled.append((arn, event.task_id))
                        work.timed_out.append((arn, event.task_id))
                elif isinstance(event, TaskStarted):
                    if consumed is not None and consumed[0] == "waiting" and event.task_id in loaded.snapshot.tasks:
                        work.waiting_tasks.append((arn, event.task_id))  # a token task with nothing to call
                    # An activity worker's claim is an inbox row, applied once (the round that records it deletes
                    # it); the claim marked the task WAITING in its own transaction, so after a restart `_started`
                    # lists it before its start is recorded.
                    claimed = consumed is not None and consumed[0] == "inbox"
                    if (arn, event.task_id) in self._started and not claimed:
                        continue  # a re-run after a crash: its first start is already recorded
                    if event.task_id in loaded.snapshot.tasks:  # a late start of a finished task records nothing
                        self._started.add((arn, event.task_id))
                        work.started_tasks.append((arn, event.task_id))
                if consumed is not None and consumed[0] == "invocation" and event.task_id in loaded.snapshot.tasks:
                    # Lambda's 202: the invocation it queued is stored with the answer that records it.
                    work.invocations.append((arn, event.task_id, consumed[1]))
                if self._deleting and self._moves_deleted(loaded.snapshot, event):
                    event = StateMachineDeleted()  # AWS ends it instead of making the transition
                step = interpreter.advance(loaded.machine, loaded.snapshot, event, env)
                if isinstance(event, TaskSubmitted) and event.task_id in step.snapshot.tasks:
                    # Handed over: its answer comes from elsewhere, and a restart must not run it again.
                    work.waiting_tasks.append((arn, event.task_id))
            loaded.snapshot = step.snapshot
            work.snapshots[arn] = step.snapshot
            if step.snapshot.status != interpreter.RUNNING:
                work.stop_ms[arn] = asl_history.stop_ms(step.events, env.now_ms)
                if consumed is not None and consumed[0] == "stop":
                    consumed[1].stop_ms = work.stop_ms[arn]
            if step.events:
                self.transitions += len(step.events)
                self._history_rows(arn, step.events, history, work)
            # Its Map Runs' STANDARD child executions' events, as rows of a history chunk already: encoded at
            # once, so that they and their details are let go of with the step (the writer joins each child's
            # pieces of a batch into one chunk).
            for (map_run_arn, index), rows in step.child_events.items():
                work.child_history.append((map_run_arn, index, rows[0][0], rows[-1][0], _json(rows)))
            for command in step.commands:
                if isinstance(command, ScheduleTask):
                    work.tasks.append((arn, command))
                elif isinstance(command, ChildExecutionChanged):  # a Map's: two for each item
                    work.map_run_children.append(command)
                elif isinstance(command, StartTimer):
                    work.timers.append((arn, command))
                elif isinstance(command, CancelTask):
                    work.deleted_tasks.append((arn, command.task_id))
                    work.cancelled.append((arn, command.task_id))
                elif isinstance(command, CancelTimer):
                    work.deleted_timers.append((arn, command.timer_id))
                elif isinstance(command, MapRunEnded):
                    work.map_runs_ended.append((arn, command))
                elif isinstance(command, CompleteExecution):
                    work.completed.append((arn, command))
                    if loaded.parent_task:
                        work.inbox_new.append(self._parent_answer(step.snapshot.execution, loaded.parent_task,
                                                                  command, env))
        if history:
            # Details are fresh values built for the event (texts, names, counts): no later step changes them.
            work.history.append((arn, history[0][0], history[-1][0], _json(history)))
        elif loaded is not None and loaded.snapshot is not None and loaded.snapshot.status != interpreter.RUNNING \
                and arn not in work.snapshots and not self._unwritten.get(arn):
            self._cache.pop(arn, None)  # a late answer for an execution that has ended, read back for nothing

    def _moves_deleted(self, snap: interpreter.Snapshot, event: Any) -> bool:
        """Whether `event` would make the next state transition of an execution whose state machine is
        being deleted: a task's outcome or a timer it waits for (a TaskStarted or a stop is no transition)."""
        if arns.machine_of_version(snap.execution.state_machine_arn)[0] not in self._deleting:
            return False
        if isinstance(event, TimerFired):
            return event.timer_id in snap.timers
        return isinstance(event, TaskSucceeded | TaskFailed | TaskTimedOut | ItemsRead) and event.task_id in snap.tasks

    def _history_rows(self, arn: str, events: list[dict[str, Any]], rows: list[list[Any]], work: Round) -> None:
        """A step's events as `[id, previous id, type, timestamp, details]` rows of its history chunk."""
        for e in events:
            body = e.get(asl_history.details_key(e["type"]))
            rows.append([e["id"], e["previousEventId"], e["type"], e["timestamp"], body])
            if e["type"] in map_runs.KINDS:
                work.map_run_events.append((arn, *rows[-1][:4], _json(body) if body is not None else None))

    def _new_info(self, new: NewExecution) -> ExecutionInfo:
        return ExecutionInfo(
            execution_arn=new.arn, name=new.name, state_machine_arn=new.version_arn or new.state_machine_arn,
            state_machine_name=new.machine_name, role_arn=new.role_arn, input_text=new.input,
            start_time_ms=new.start_ms,
        )

    def _read_frames(self, arn: str) -> Callable[[str], str]:
        """The execution's stored frames by id, remembered as what the store holds."""
        texts = {row["frame_id"]: row["body"] for row in self.store.all("frames_of_execution", {"arn": arn})}
        self._frame_texts[arn] = texts
        return texts.__getitem__

    def _encode(self, arn: str, snap: interpreter.Snapshot, apart: Apart, *, ended_for_good: bool) -> str | None:
        """The text of the execution's snapshot; its joins' data and its frames go to `apart`, and so do
        the joins that ended since the last commit. An execution `ended_for_good` keeps no snapshot, no
        frame rows and no join data: only a redrive reads them, and none can come (its status, output,
        error and cause are columns of their own)."""
        texts: dict[str, str] = {}
        written = apart.joins_written.setdefault(arn, {})
        text = None if ended_for_good else snapshot.dumps(snap, frame_text=texts.__setitem__, external=partial(
            join_rows, arn, rows=apart.join_rows, written=written))
        apart.joins_gone.extend((arn, join_id) for join_id in self._join_ids.get(arn, ()) if join_id not in written)
        last = self._frame_texts.get(arn, {})
        apart.frame_rows.extend((arn, frame_id, body) for frame_id, body in texts.items() if last.get(frame_id) != body)
        apart.frames_gone.extend((arn, frame_id) for frame_id in last if frame_id not in texts)
        apart.frame_texts[arn] = texts
        return text

    def _handed_over(self, apart: Apart, snapshots: Mapping[str, interpreter.Snapshot]) -> None:
        """Once a round is handed to the writer, later rounds write only what changes after it: the
        frame texts it writes count as stored, and its joins' items and input as written (a failed
        write resyncs all of this from the store)."""
        for arn, texts in apart.frame_texts.items():
            snap = snapshots[arn]
            if snap.status == interpreter.RUNNING and texts:
                self._frame_texts[arn] = texts
            else:
                self._frame_texts.pop(arn, None)
            if snap.status == interpreter.RUNNING:
                self._join_ids[arn] = set(apart.joins_written.get(arn, ()))
            else:
                self._join_ids.pop(arn, None)
            if apart.joins_written.get(arn):
                snapshot.attach_stores(snap, self._join_store(arn), apart.joins_written[arn])

    def _release(self, apart: Apart) -> None:
        """A round is durable: running executions let go of the join data it stored (a step reads it
        back from the store), but not of what later rounds, not yet durable, added."""
        for arn, written in apart.joins_written.items():
            loaded = self._cache.get(arn)
            if written and loaded is not None and loaded.snapshot is not None \
                    and loaded.snapshot.status == interpreter.RUNNING:
                snapshot.release(loaded.snapshot, self._join_store(arn), written)

    def _join_store(self, arn: str) -> Callable[[str], StoredJoin]:
        return partial(StoredJoin, self.store, arn)

    def _advance_isolated(self, arn: str, items: list[tuple[Any, Any]], env: ShellEnv, work: Round) -> None:
        """Advance one execution; an unexpected error in it (a bug) quarantines that execution, with a
        logged traceback, instead of stopping every other execution's progress."""
        if arn in self._quarantined:
            return
        mark = work.mark()
        try:
            self._advance(arn, items, env, work)
            _check_storable(work, mark)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._quarantine(arn, "after an internal error")
            self._cache.pop(arn, None)
            self._started.difference_update(work.started_tasks[mark[_STARTED_TASKS]:])
            work.undo(mark, arn)
            if any(event == START for event, _ in items):
                self._record_start(arn, env, work)

    def _quarantine(self, arn: str, reason: str) -> None:
        """Leave an execution alone until restart, and say why; its rows stay as they are."""
        print(f"stateway: execution {arn} is quarantined until restart {reason}", file=sys.stderr)
        self._quarantined.add(arn)

    def _record_start(self, arn: str, env: ShellEnv, work: Round) -> None:
        """An execution quarantined on its first step has started all the same (StartExecution said so):
        its history begins with ExecutionStarted, as every other's does, and nothing else is stored
        for it. Its first step is computed again after a restart, which does not record the event twice."""
        try:
            if self.store.scalar("last_event_id", {"arn": arn}) is not None:
                return  # recorded already: by an earlier quarantine, or it was not its first step
            new = work.starts.get(arn)
            info = self._new_info(new) if new is not None else self._execution_info(arn, env.now_ms)
            details = asl_history.execution_started_details(info.input_text, info.role_arn)
            piece = _json([[1, 0, "ExecutionStarted", env.now_ms, details]])
            piece.encode("utf-8")  # what would fail every commit is left out (the row holds the input already)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return
        work.history.append((arn, 1, 1, piece))

    def _drop_recorded(self, arn: str, events: list[dict[str, Any]]) -> None:
        """Leave out of a first step computed again the events its history holds already: the
        ExecutionStarted of an execution that was quarantined on its first step (`_record_start`)."""
        recorded = self.store.scalar("last_event_id", {"arn": arn})
        if recorded is not None:
            events[:] = [e for e in events if e["id"] > recorded]

    def _execution_info(self, arn: str, now: int) -> ExecutionInfo:
        row = self.store.one("get_execution", {"arn": arn})
        assert row is not None
        machine_name = arns.split(row["state_machine_arn"])[6]
        return ExecutionInfo(
            execution_arn=arn, name=row["name"], state_machine_arn=row["version_arn"] or row["state_machine_arn"],
            state_machine_name=machine_name, role_arn=row["role_arn"] or self.service.role_arn,
            input_text=row["input"], start_time_ms=row["start_ms"],
        )

    def _parent_answer(self, child: ExecutionInfo, parent: dict[str, Any], done: CompleteExecution,
                       env: ShellEnv) -> tuple[str, str]:
        """A nested `.sync` execution ended: answer the parent's task with AWS's result shape."""
        from stateway.workers.nested import nested_result

        event = nested_result(child, parent, done, env.now_ms)
        return parent["execution_arn"], event_to_json(event)

    def _prepare(self, work: Round, taken: list[tuple[str, Any]]) -> Write:
        """Encode the round for the writer thread (in the decider: the snapshots are live objects)."""
        now = now_ms()
        apart = Apart()
        states: list[dict[str, Any]] = []
        finished: list[tuple[str]] = []
        for arn, snap in work.snapshots.items():
            ended_for_good = _ended_for_good(snap, now)
            if ended_for_good:
                finished.append((arn,))
            text = self._encode(arn, snap, apart, ended_for_good=ended_for_good)
            states.append({
                "arn": arn, "snapshot": text, "status": snap.status, "output": snap.output,
                # A Fail state's Error or Cause may hold a lone surrogate, which only its escape can store.
                "error": jsontext.storable(snap.error), "cause": jsontext.storable(snap.cause),
                # The closing event's timestamp: one clock reading for the history and the row.
                "stop_ms": work.stop_ms.get(arn, now) if snap.status != interpreter.RUNNING else None,
            })
        tasks = [(arn, c.task_id, command_to_json(c), c.task_token, c.resource if c.kind == "activity" else None,
                  clamp_ms(now + c.timeout_seconds * 1000) if c.timeout_seconds else None,
                  clamp_ms(now + c.heartbeat_seconds * 1000) if c.heartbeat_seconds else None, now, "SCHEDULED")
                 for arn, c in work.tasks]
        timers = [(arn, t.timer_id, t.due_ms, t.purpose) for arn, t in work.timers]
        for timer in timers:
            self._due(timer[2])
        for task in tasks:
            self._due(min((d for d in (task[5], task[6]) if d is not None), default=None))
        # What later rounds must know before this one is durable (a failed write resyncs it all).
        self._started.difference_update(work.deleted_tasks)
        self._handed_over(apart, work.snapshots)
        self._unwritten.update(work.snapshots.keys())
        size = sum(len(snap.output or "") for snap in work.snapshots.values()) \
            + sum(len(state["snapshot"] or "") for state in states) + sum(len(row[2]) for row in apart.frame_rows) \
            + sum(len(row[4]) for row in apart.join_rows) + sum(len(piece[3]) for piece in work.history) \
            + sum(len(piece[4]) for piece in work.child_history) \
            + sum(len(c.input or "") + len(c.output or "") for c in work.map_run_children)
        queue = invocations.changes(work.invocations, work.ran, now)
        for retried in queue.retried:
            self._due(retried[1])
        ran_maps = map_runs.changes(work.map_run_events, work.map_runs_ended, work.snapshots, now,
                                    work.map_run_children)
        return Write(work=work, taken=taken, now=now, states=states, apart=apart, finished=finished,
                     tasks=tasks, timers=timers, map_runs=ran_maps, invocations=queue, size=size)

    def _write(self, db: Any, batch: list[Write | StartWrite]) -> None:
        """Store a batch of starts or rounds in the writer's transaction (in the writer thread)."""
        write_batch(db, self.store.q, batch, self.writer_known)

    # ---- helpers for workers ----------------------------------------------------------------

    def _invoke(self, key: invocations.Key, invocation: EventInvocation, attempts: int) -> None:
        """Hand a stored Event invocation to a worker; a later round records how it ended."""
        self._invoking.add(key)
        self.dispatcher.run_invocation(key, invocation, attempts)

    def run_in_pool(self, fn: Any, *args: Any) -> None:
        if self._running or self._thread is None:
            self._pool.submit(fn, *args)

    def limit_worker(self, seconds: float, on_expiry: Callable[[], None]) -> Limit:
        """Bound the calling task worker's current call (see `WorkerPool.limit`): a call that outlives it no
        longer takes one of the `workers`."""
        return self._pool.limit(seconds, on_expiry)

    def run_in_invocation_pool(self, fn: Any, *args: Any) -> None:
        if self._running or self._thread is None:
            self._invocation_pool.submit(fn, *args)

    def output_text(self, value: Any) -> str:
        return jsontext.dumps(value)


def _write_size(item: Write | StartWrite) -> int:
    """The characters of text a round holds until it is written (a start: none, its caller waits)."""
    return item.size if isinstance(item, Write) else 0


def _write_prompt(item: Write | StartWrite) -> bool:
    return not isinstance(item, Write) or item.prompt


def describe(row: dict[str, Any]) -> dict[str, Any]:
    return execution_description(row)


_json = jsontext.compact_encoder(allow_nan=True)  # history details: one encoder for the process

