"""The engine: a decider that applies events to executions in group commits, timers, and workers.

One decider thread owns the transitions. Each round it gathers what happened — worker results,
inbox rows (API calls, other processes), due timers and expired task deadlines — applies them to
every affected execution through the pure core, and writes all new snapshots, history events, task
rows and timer rows in ONE transaction. A crash before that commit recomputes the round from the
store; a crash after it finds every command already stored. Tasks are then handed to workers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from stateway.asl import history as asl_history
from stateway.asl import interpreter, jsontext, snapshot
from stateway.asl.events import (
    CancelTask,
    CancelTimer,
    CompleteExecution,
    ExecutionInfo,
    RedriveRequested,
    ScheduleTask,
    StartTimer,
    StopRequested,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.engine import arns, map_runs
from stateway.engine.codec import START, command_from_json, command_to_json, event_from_json, event_to_json
from stateway.engine.dispatch import TaskDispatcher
from stateway.engine.env import ShellEnv
from stateway.engine.errors import ExecutionAlreadyExists
from stateway.engine.join_data import JoinRow, StoredJoin, join_rows
from stateway.engine.service import NewExecution, Service, execution_description, now_ms
from stateway.store.sqlite import SqliteStore, open_store
from stateway.workers.python import Handler


@dataclass
class _Loaded:
    machine: StateMachine
    snapshot: interpreter.Snapshot | None
    parent_task: dict[str, Any] | None


@dataclass
class _Round:
    """Everything one decider round will write in its single transaction."""

    snapshots: dict[str, interpreter.Snapshot] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[str, ScheduleTask]] = field(default_factory=list)
    deleted_tasks: list[tuple[str, str]] = field(default_factory=list)
    started_tasks: list[tuple[str, str]] = field(default_factory=list)
    timers: list[tuple[str, StartTimer]] = field(default_factory=list)
    deleted_timers: list[tuple[str, str]] = field(default_factory=list)
    inbox_done: list[int] = field(default_factory=list)
    inbox_new: list[tuple[str, str]] = field(default_factory=list)
    completed: list[tuple[str, CompleteExecution]] = field(default_factory=list)
    redriven: list[tuple[int, int, str]] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    starts: list[tuple[NewExecution, Future[str]]] = field(default_factory=list)

    def merge(self, part: _Round) -> None:
        """Take one execution's share of the round (its starts are already listed here)."""
        self.snapshots.update(part.snapshots)
        for name in ("events", "tasks", "deleted_tasks", "started_tasks", "timers", "deleted_timers",
                     "inbox_done", "inbox_new", "completed", "redriven", "cancelled"):
            getattr(self, name).extend(getattr(part, name))


@dataclass
class _Apart:
    """What one commit stores apart from the execution snapshots: join data and frame rows."""

    join_rows: list[JoinRow] = field(default_factory=list)
    frame_rows: list[tuple[str, str, str]] = field(default_factory=list)
    frames_gone: list[tuple[str, str]] = field(default_factory=list)
    frame_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    # Per execution: the joins whose data the commit stores, with the indices of the results among it.
    joins_written: dict[str, dict[str, list[int]]] = field(default_factory=dict)


class Engine:
    """Runs executions durably on a store: `start()`, use `service`, `stop()`."""

    def __init__(self, db: str | SqliteStore = "sqlite:///stateway.db", *,
                 functions: Mapping[str, Handler] | None = None, workers: int = 8,
                 region: str = "us-east-1", account: str = "123456789012",
                 poll_interval: float = 0.25, payload_limit_bytes: int = 262_144,
                 batch_size: int = 2000) -> None:
        self.store = db if isinstance(db, SqliteStore) else open_store(db)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self.service = Service(self.store, region=region, account=account, notify=self._inbox_changed)
        # The store is read for inbox rows, due timers and expired deadlines only when something may be
        # there: an in-process write said so, the earliest known due time has come, or the poll
        # interval passed (another process may have written).
        self._inbox_dirty = True
        self._next_poll = 0.0
        self._next_due_ms: int | None = 0
        from stateway.workers.registry import registered

        # Functions registered with @stateway.function, overridden by the ones passed here.
        self.functions = {**registered(), **(functions or {})}
        self.poll_interval = poll_interval
        self.payload_limit_bytes = payload_limit_bytes
        self.batch_size = batch_size
        self._results: deque[tuple[str, Any]] = deque()
        self._starts: deque[tuple[NewExecution, Future[str]]] = deque()
        self._quarantined: set[str] = set()
        # Per execution: the text of each frame as the store holds it now (table `frames`), so that a
        # commit rewrites only the frames that changed.
        self._frame_texts: dict[str, dict[str, str]] = {}
        self._cache: dict[str, _Loaded] = {}
        self._machines: dict[str, StateMachine] = {}
        # Tasks whose TaskStarted is already in the history (their rows say RUNNING or WAITING): a task
        # re-run after a crash reports TaskStarted again, and the history must not record it twice.
        self._started: set[tuple[str, str]] = set()
        self._done = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="stateway-worker")
        self.dispatcher = TaskDispatcher(self)
        self.rounds = 0
        self.transitions = 0

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Engine:
        """Recover what a previous process left and start the decider thread."""
        if self._running:
            return self
        self._running = True
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="stateway-decider", daemon=True)
        self._thread.start()
        self.service.group_commit = self._start_in_round
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work; tasks in flight finish or stay stored to be re-run on the next start."""
        self.service.group_commit = None
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """Block until the execution ends (or the timeout passes); returns DescribeExecution."""
        deadline = time.monotonic() + timeout
        with self._done:
            while True:
                row = self.store.one("get_execution", {"arn": execution_arn})
                if row is None or row["status"] != "RUNNING":
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._done.wait(min(remaining, 0.5))
        return self.service.describe_execution(execution_arn)

    def _recover(self) -> None:
        """Re-dispatch every task that was stored but not finished: at-least-once, same idempotency key."""
        for row in self.store.all("started_tasks"):
            self._started.add((row["execution_arn"], row["id"]))
        for row in self.store.all("unfinished_tasks"):
            self.dispatcher.dispatch(row["execution_arn"], command_from_json(row["command"]))

    # ---- the decider ------------------------------------------------------------------------

    def _start_in_round(self, new: NewExecution) -> str:
        """Store a start in the next group commit and return once it is durable."""
        future: Future[str] = Future()
        self._starts.append((new, future))
        self._wake.set()
        return future.result(timeout=120)

    def post(self, execution_arn: str, event: Any) -> None:
        """A worker's answer: applied in the next round (and re-run after a crash if not yet applied)."""
        self._results.append((execution_arn, event))
        self._wake.set()

    def _loop(self) -> None:
        while self._running:
            try:
                worked = self.run_round()
            except Exception:  # a failed round is recomputed from the store; the decider must live on
                traceback.print_exc(file=sys.stderr)
                self._cache.clear()
                time.sleep(0.5)
                continue
            if not worked:
                self._wake.wait(self._idle_wait())
            self._wake.clear()

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
        """One group commit: gather, advance, write, dispatch. Returns whether anything happened."""
        now = now_ms()
        inputs: dict[str, list[tuple[Any, Any]]] = defaultdict(list)  # arn -> [(event, consumed-marker)]
        starts = self._take_starts()
        for new, _ in starts:
            inputs[new.arn].append((START, None))
        taken: list[tuple[str, Any]] = []
        while self._results and len(inputs) < self.batch_size:
            arn, event = self._results.popleft()
            taken.append((arn, event))
            inputs[arn].append((event, None))
        if self._inbox_dirty or time.monotonic() >= self._next_poll or (
                self._next_due_ms is not None and self._next_due_ms <= now):
            self._read_store(now, inputs)
        if not inputs:
            return False
        work = _Round(starts=starts)
        env = ShellEnv(now, self.payload_limit_bytes)
        try:
            for arn, items in inputs.items():
                self._advance_isolated(arn, items, env, work)
            # Python functions start while this round's commit is being written: their answers are
            # applied in a later round, after it. If the commit fails, the recomputed round schedules
            # the same tasks under the same ids (task functions are at-least-once in any case).
            early = [(arn, c) for arn, c in work.tasks if self.dispatcher.runs_in_process(c)]
            for arn, command in early:
                self.dispatcher.dispatch(arn, command)
            self._commit(work)
        except Exception as exc:
            # Nothing of this round is stored: forget what it changed in memory and give the workers'
            # answers back, so the next round starts again from the store; starts are refused.
            for arn in inputs:
                self._cache.pop(arn, None)
            self._started.difference_update(work.started_tasks)  # not recorded after all
            self._results.extendleft(reversed(taken))
            for _, future in starts:
                future.set_exception(exc)
            raise
        for new, future in starts:
            future.set_result(new.arn)
        self.rounds += 1
        for arn, command in work.tasks:
            if not self.dispatcher.runs_in_process(command):
                self.dispatcher.dispatch(arn, command)
        if work.completed:
            with self._done:
                self._done.notify_all()
        return True

    def _read_store(self, now: int, inputs: dict[str, list[tuple[Any, Any]]]) -> None:
        """Inbox rows, due timers and expired task deadlines, and when the next one falls due."""
        self._inbox_dirty = False
        self._next_poll = time.monotonic() + self.poll_interval
        for row in self.store.all("pending_inbox", {"limit": self.batch_size}):
            inputs[row["execution_arn"]].append((event_from_json(row["event"]), ("inbox", row["seq"])))
        for row in self.store.all("due_timers", {"now": now, "limit": self.batch_size}):
            inputs[row["execution_arn"]].append((TimerFired(row["id"]), ("timer", row["id"])))
        for row in self.store.all("expired_tasks", {"now": now, "limit": self.batch_size}):
            heartbeat = row["heartbeat_deadline_ms"] is not None and row["heartbeat_deadline_ms"] <= now
            error = "States.HeartbeatTimeout" if heartbeat else "States.Timeout"
            inputs[row["execution_arn"]].append((TaskTimedOut(row["id"], error), ("task", row["id"])))
        # A full batch may leave more behind: read again next round.
        dues = [v for v in (self.store.scalar("next_timer"), self.store.scalar("next_task_deadline"))
                if v is not None and v < 2**62]
        self._next_due_ms = min(dues) if dues else None
        if any(len(v) >= self.batch_size for v in inputs.values()):
            self._inbox_dirty = True

    def _take_starts(self) -> list[tuple[NewExecution, Future[str]]]:
        """This round's starts; a second start of the same name in one round behaves as AWS's does."""
        starts: list[tuple[NewExecution, Future[str]]] = []
        by_name: dict[tuple[str, str], NewExecution] = {}
        while self._starts and len(starts) < self.batch_size:
            new, future = self._starts.popleft()
            first = by_name.get((new.state_machine_arn, new.name))
            if first is None:
                by_name[(new.state_machine_arn, new.name)] = new
                starts.append((new, future))
                self._cache[new.arn] = _Loaded(self._machine(new.definition), None,
                                               json.loads(new.parent_task) if new.parent_task else None)
            elif first.input == new.input:
                starts.append((new, future))  # idempotent: the same execution
            else:
                future.set_exception(ExecutionAlreadyExists(f"Execution Already Exists: '{first.arn}'"))
        return starts

    def _machine(self, definition: str) -> StateMachine:
        machine = self._machines.get(definition)
        if machine is None:
            machine = parse_machine(definition, validate=False)
            self._machines[definition] = machine
        return machine

    def _load(self, arn: str) -> _Loaded | None:
        loaded = self._cache.get(arn)
        if loaded is not None:
            return loaded
        row = self.store.one("load_execution_state", {"arn": arn})
        if row is None:
            return None
        machine = self._machine(row["definition"])
        snap = snapshot.loads(row["snapshot"], input_text=row["input"], frame_text=self._read_frames(arn),
                              join_store=partial(StoredJoin, self.store, arn)) if row["snapshot"] else None
        parent = json.loads(row["parent_task"]) if row["parent_task"] else None
        loaded = _Loaded(machine, snap, parent)
        self._cache[arn] = loaded
        return loaded

    def _advance(self, arn: str, items: list[tuple[Any, Any]], env: ShellEnv, work: _Round) -> None:
        loaded = self._load(arn)
        for event, consumed in items:
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
                new = next((n for n, _ in work.starts if n.arn == arn), None)
                info = self._new_info(new) if new is not None else self._execution_info(arn, env.now_ms)
                step = interpreter.start(loaded.machine, info, env)
            else:
                if loaded.snapshot is None:
                    continue
                if isinstance(event, RedriveRequested):
                    if loaded.snapshot.status == interpreter.RUNNING:
                        continue
                    work.redriven.append((loaded.snapshot.execution.redrive_count + 1, env.now_ms, arn))
                elif loaded.snapshot.status != interpreter.RUNNING:
                    continue
                if isinstance(event, TaskSucceeded | TaskFailed | TaskTimedOut):
                    work.deleted_tasks.append((arn, event.task_id))
                elif isinstance(event, TaskStarted):
                    if (arn, event.task_id) in self._started:
                        continue  # a re-run after a crash: its first start is already recorded
                    if event.task_id in loaded.snapshot.tasks:  # a late start of a finished task records nothing
                        self._started.add((arn, event.task_id))
                        work.started_tasks.append((arn, event.task_id))
                step = interpreter.advance(loaded.machine, loaded.snapshot, event, env)
            loaded.snapshot = step.snapshot
            work.snapshots[arn] = step.snapshot
            self.transitions += len(step.events)
            for e in step.events:
                body = e.get(asl_history.details_key(e["type"]))
                details = _json(body) if body is not None else None
                work.events.append((arn, e["id"], e["previousEventId"], e["type"], e["timestamp"], details))
            for command in step.commands:
                if isinstance(command, ScheduleTask):
                    work.tasks.append((arn, command))
                elif isinstance(command, StartTimer):
                    work.timers.append((arn, command))
                elif isinstance(command, CancelTask):
                    work.deleted_tasks.append((arn, command.task_id))
                    work.cancelled.append((arn, command.task_id))
                elif isinstance(command, CancelTimer):
                    work.deleted_timers.append((arn, command.timer_id))
                elif isinstance(command, CompleteExecution):
                    work.completed.append((arn, command))
                    if loaded.parent_task:
                        work.inbox_new.append(self._parent_answer(arn, loaded.parent_task, command, env))

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

    def _encode(self, arn: str, snap: interpreter.Snapshot, apart: _Apart) -> str:
        """The text of the execution's snapshot; its joins' data and its frames go to `apart`."""
        texts: dict[str, str] = {}
        text = snapshot.dumps(snap, frame_text=texts.__setitem__, external=partial(
            join_rows, arn, rows=apart.join_rows, written=apart.joins_written.setdefault(arn, {})))
        last = self._frame_texts.get(arn, {})
        apart.frame_rows.extend((arn, frame_id, body) for frame_id, body in texts.items() if last.get(frame_id) != body)
        apart.frames_gone.extend((arn, frame_id) for frame_id in last if frame_id not in texts)
        apart.frame_texts[arn] = texts
        return text

    def _write_apart(self, db: sqlite3.Connection, apart: _Apart) -> None:
        """Write the join data and frame rows of this commit, inside its transaction."""
        q = self.store.q
        if apart.join_rows:
            db.executemany(q["put_join_data"], apart.join_rows)
        if apart.frame_rows:
            db.executemany(q["put_frame"], apart.frame_rows)
        if apart.frames_gone:
            db.executemany(q["delete_frame"], apart.frames_gone)

    def _apart_written(self, apart: _Apart, snapshots: Mapping[str, interpreter.Snapshot]) -> None:
        """Once the commit is durable, and before these executions advance again: remember what the
        store now holds of the running ones' frames, and let go of their joins' data that it holds
        (a step reads it back from the store when it needs it)."""
        for arn, texts in apart.frame_texts.items():
            snap = snapshots[arn]
            if snap.status != interpreter.RUNNING:
                self._frame_texts.pop(arn, None)
                continue
            if texts:
                self._frame_texts[arn] = texts
            else:
                self._frame_texts.pop(arn, None)
            snapshot.release(snap, partial(StoredJoin, self.store, arn), apart.joins_written[arn])

    def _advance_isolated(self, arn: str, items: list[tuple[Any, Any]], env: ShellEnv, work: _Round) -> None:
        """Advance one execution; an unexpected error in it (a bug) quarantines that execution, with a
        logged traceback, instead of stopping every other execution's progress."""
        if arn in self._quarantined:
            return
        part = _Round(starts=[s for s in work.starts if s[0].arn == arn])
        try:
            self._advance(arn, items, env, part)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            print(f"stateway: execution {arn} is quarantined until restart after an internal error",
                  file=sys.stderr)
            self._quarantined.add(arn)
            self._cache.pop(arn, None)
            self._started.difference_update(part.started_tasks)
            for new, future in part.starts:
                future.set_exception(RuntimeError(f"internal error while starting {new.arn}"))
            work.starts[:] = [s for s in work.starts if s[0].arn != arn]
            return
        work.merge(part)

    def _execution_info(self, arn: str, now: int) -> ExecutionInfo:
        row = self.store.one("get_execution", {"arn": arn})
        assert row is not None
        machine_name = arns.split(row["state_machine_arn"])[6]
        return ExecutionInfo(
            execution_arn=arn, name=row["name"], state_machine_arn=row["version_arn"] or row["state_machine_arn"],
            state_machine_name=machine_name, role_arn=self.service.role_arn, input_text=row["input"],
            start_time_ms=row["start_ms"],
        )

    def _parent_answer(self, arn: str, parent: dict[str, Any], done: CompleteExecution,
                       env: ShellEnv) -> tuple[str, str]:
        """A nested `.sync` execution ended: answer the parent's task with AWS's result shape."""
        from stateway.workers.nested import nested_result

        event = nested_result(self.service, arn, parent, done, env.now_ms)
        return parent["execution_arn"], event_to_json(event)

    def _commit(self, work: _Round) -> None:
        q = self.store.q
        now = now_ms()
        # Everything is encoded before the write lock is taken, so the lock is held only for the
        # statements and the fsync (API writes from other threads wait for it).
        apart = _Apart()
        states = []
        for arn, snap in work.snapshots.items():
            text = self._encode(arn, snap, apart)
            states.append({
                "arn": arn, "snapshot": text, "status": snap.status, "output": snap.output, "error": snap.error,
                "cause": snap.cause, "stop_ms": now if snap.status != interpreter.RUNNING else None,
            })
        finished = [(arn,) for arn, snap in work.snapshots.items() if snap.status == "SUCCEEDED"]
        tasks = [(arn, c.task_id, command_to_json(c), c.task_token,
                  now + c.timeout_seconds * 1000 if c.timeout_seconds else None,
                  now + c.heartbeat_seconds * 1000 if c.heartbeat_seconds else None, now)
                 for arn, c in work.tasks]
        timers = [(arn, t.timer_id, t.due_ms, t.purpose) for arn, t in work.timers]
        for timer in timers:
            self._due(timer[2])
        for task in tasks:
            self._due(min((d for d in (task[4], task[5]) if d is not None), default=None))
        stopped_children = False
        with self.store.write() as db:
            stored: set[str] = set()
            for new, _ in work.starts:
                if new.arn not in stored:
                    new.insert(db, q)
                    stored.add(new.arn)
            if work.events:
                db.executemany(q["insert_event"], work.events)
            # Map Runs (DescribeMapRun/ListMapRuns): rows follow the MapRun* events and the distributed
            # Maps' joins in the snapshots, in this same transaction.
            map_runs.record(db, q, work.events, work.snapshots, now)
            if work.redriven:
                db.executemany(q["mark_redriven"], work.redriven)
            db.executemany(q["save_execution_state"], states)
            self._write_apart(db, apart)
            if finished:  # a succeeded execution cannot be redriven: its joins' data is not needed
                db.executemany(q["delete_join_data"], finished)
            for parent_arn, task_id in work.cancelled:
                # A `.sync` task that is cancelled (stop, timeout, a failed sibling) stops its child.
                for (child_arn,) in db.execute(q["running_children"], (parent_arn, task_id)).fetchall():
                    db.execute(q["insert_inbox"], {"execution_arn": child_arn, "created_ms": now,
                                                   "event": event_to_json(StopRequested())})
                    stopped_children = True
            if work.deleted_tasks:
                db.executemany(q["bury_task_token"], [(now, arn, task_id) for arn, task_id in work.deleted_tasks])
                db.executemany(q["delete_task"], work.deleted_tasks)
            if work.started_tasks:
                db.executemany(q["task_started"], work.started_tasks)
            if tasks:
                db.executemany(q["insert_task"], tasks)
            if work.deleted_timers:
                db.executemany(q["delete_timer"], work.deleted_timers)
            if timers:
                db.executemany(q["insert_timer"], timers)
            if work.inbox_done:
                db.executemany(q["delete_inbox"], [(seq,) for seq in work.inbox_done])
            for parent_arn, event_text in work.inbox_new:
                db.execute(q["insert_inbox"], {"execution_arn": parent_arn, "event": event_text, "created_ms": now})
        self._started.difference_update(work.deleted_tasks)
        self._apart_written(apart, work.snapshots)
        for arn, _ in work.completed:
            self._cache.pop(arn, None)
        if work.inbox_new or stopped_children:
            self._inbox_changed()

    # ---- helpers for workers ----------------------------------------------------------------

    def lease(self, execution_arn: str, task_id: str, seconds: float) -> None:
        with self.store.write() as db:
            db.execute(self.store.q["lease_task"], (self.owner, now_ms() + int(seconds * 1000), execution_arn, task_id))

    def mark_waiting(self, execution_arn: str, task_id: str) -> None:
        with self.store.write() as db:
            db.execute(self.store.q["task_waiting"], (execution_arn, task_id))

    def run_in_pool(self, fn: Any, *args: Any) -> None:
        if self._running or self._thread is None:
            self._pool.submit(fn, *args)

    def output_text(self, value: Any) -> str:
        return jsontext.dumps(value)


def describe(row: dict[str, Any]) -> dict[str, Any]:
    return execution_description(row)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _json(value: Any) -> str:
    return _ENCODER.encode(value)
