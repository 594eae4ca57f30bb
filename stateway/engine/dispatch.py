"""Hands each scheduled task to what can run it: Python functions, nested executions, or the world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stateway.asl.events import READ_ITEMS, WRITE_RESULTS, ScheduleTask, TaskFailed, TaskStarted, TaskTimedOut
from stateway.asl.timestamps import clamp_ms
from stateway.engine import invocations
from stateway.workers.function_task import (
    EventInvocation,
    Outcome,
    function_target,
    idempotency_key,
    run_function_task,
)

if TYPE_CHECKING:
    from stateway.engine.runtime import Engine


@dataclass(frozen=True)
class Waiting:
    """A worker's event after which its task waits for an answer from elsewhere, where the event alone does
    not say so (a TaskSubmitted does): the round that records it marks the task WAITING in its transaction."""

    event: TaskStarted


class TaskDispatcher:
    """Routes a ScheduleTask command by its resource; results come back to the engine as core events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def runs_in_process(self, command: ScheduleTask) -> bool:
        """A Python function without a task token: work that writes nothing before its answer."""
        return command.task_token is None and function_target(command) is not None

    def dispatch(self, execution_arn: str, command: ScheduleTask) -> None:
        if command.kind == READ_ITEMS:  # a distributed Map's ItemReader: read on a worker
            self.engine.run_in_pool(self._read_items, execution_arn, command)
            return
        if command.kind == WRITE_RESULTS:  # a distributed Map's ResultWriter: written on a worker
            self.engine.run_in_pool(self._write_results, execution_arn, command)
            return
        if command.kind == "activity":
            # Activity workers poll for it (GetActivityTask). Dispatch follows the commit of the task's
            # row, so the poll this wakes finds it.
            self.engine.activity_bell.ring(command.resource)
            return
        if function_target(command) is not None:
            self.engine.run_in_pool(self._run_function, execution_arn, command)
        elif command.resource_type == "states" and command.service_resource.startswith("startExecution"):
            # In flight from now, before a worker takes it: the decider's next look at the inbox (after a
            # restart, a child that ended already) must not apply the child's answer before TaskSubmitted.
            self.engine.nested_in_flight.add((execution_arn, command.task_id))
            self.engine.run_in_pool(self._run_nested, execution_arn, command)
        elif command.task_token is not None:
            # Any other resource with `.waitForTaskToken`: nothing to call here; the answer arrives
            # through SendTaskSuccess/SendTaskFailure with the token the definition passed on.
            self.engine.post(execution_arn, Waiting(TaskStarted(command.task_id)))
        else:
            self.engine.post(execution_arn, TaskStarted(command.task_id))
            self.engine.post(execution_arn, TaskFailed(
                command.task_id, "States.Runtime",
                f"No task handler is configured for the resource '{command.resource}'."))

    def _read_items(self, execution_arn: str, command: ScheduleTask) -> None:
        from stateway.engine.join_data import StoredJoin
        from stateway.workers.item_reader import read_items

        join_id = str((command.input or {}).get("JoinId", ""))
        sink = _ItemRows(self.engine, execution_arn, command.task_id, join_id) if join_id else None
        try:
            answer: object = read_items(self.engine.object_store, command, sink,
                                        StoredJoin(self.engine.store, execution_arn, join_id))
        except _ReadCancelled:
            return  # the Map stopped waiting for it (a stop, a timeout): nobody reads the answer
        except Exception as exc:  # an unreadable object must fail the Map Run, never kill the worker
            answer = TaskFailed(command.task_id, "States.ItemReaderFailed", f"{type(exc).__name__}: {exc}")
        self.engine.post(execution_arn, answer)

    def _write_results(self, execution_arn: str, command: ScheduleTask) -> None:
        """Dispatched once the round that ended the Map Run's last child is durable: its rows are stored."""
        from stateway.engine.map_runs import child_results
        from stateway.workers.result_writer import write_results

        try:
            map_run_arn = str((command.input or {}).get("MapRunArn", ""))
            answer: object = write_results(self.engine.object_store, command,
                                           lambda: child_results(self.engine.store, map_run_arn))
        except Exception as exc:  # a write that fails must fail the Map Run, never kill the worker
            answer = TaskFailed(command.task_id, "States.ResultWriterFailed", f"{type(exc).__name__}: {exc}")
        self.engine.post(execution_arn, answer)

    def _run_function(self, execution_arn: str, command: ScheduleTask) -> None:
        try:
            self._invoke(execution_arn, command)
        except Exception as exc:  # a bug in dispatch must fail the task, never kill the worker
            self.engine.post(execution_arn, TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}"))

    def _invoke(self, execution_arn: str, command: ScheduleTask) -> None:
        engine = self.engine
        engine.post(execution_arn, TaskStarted(command.task_id))
        queued: list[EventInvocation] = []
        outcome = run_function_task(
            command, engine.functions, region=engine.service.region, account=engine.service.account,
            idempotency_key=idempotency_key(execution_arn, command),
            heartbeat=lambda: self._heartbeat(execution_arn, command), queue=queued.append,
            default_timeout_seconds=engine.function_timeout_seconds, watch=engine.limit_worker,
            on_timeout=lambda timed_out: self._timed_out(execution_arn, timed_out))
        if outcome is None:
            return  # it outlived its timeout, reported then (`_timed_out`): its late result is never read
        # An Event invocation is stored with the 202 that answers its task; a token task's TaskSubmitted
        # marks it WAITING in the same round (until then a restart runs it again, under the same key).
        engine.post(execution_arn, invocations.Queued(outcome, queued[0]) if queued else outcome)

    def _timed_out(self, execution_arn: str, outcome: Outcome) -> None:
        """A function ran out of time (on the workers' watchdog, while it may still hang): its own timeout
        fails the task as Lambda's does; the task's `TimeoutSeconds` is the engine's stored deadline, which
        turns into TaskTimedOut by itself, after a restart too."""
        if not isinstance(outcome, TaskTimedOut):
            self.engine.post(execution_arn, outcome)

    def run_invocation(self, key: invocations.Key, invocation: EventInvocation, attempts: int) -> None:
        """Run a stored Event invocation on an invocation worker; its end comes back to the engine as `Ran`."""
        self.engine.run_in_invocation_pool(self._run_invocation, key, invocation, attempts)

    def _run_invocation(self, key: invocations.Key, invocation: EventInvocation, attempts: int) -> None:
        try:
            ran = invocations.run(self.engine.functions, key, invocation, attempts,
                                  self.engine.function_timeout_seconds, region=self.engine.service.region,
                                  account=self.engine.service.account)
        except Exception as exc:  # a bug here must not leave the invocation unfinished until a restart
            invocations.log.exception("asynchronous invocation of %s: %s", invocation.function, exc)
            ran = invocations.Ran(key, attempts, failed=True)
        self.engine.post(key[0], ran)

    def _heartbeat(self, execution_arn: str, command: ScheduleTask) -> None:
        if command.heartbeat_seconds:
            from stateway.engine.service import now_ms

            with self.engine.store.write() as db:
                db.execute(self.engine.store.q["heartbeat_task_by_id"],
                           (clamp_ms(now_ms() + command.heartbeat_seconds * 1000), execution_arn, command.task_id))

    def _run_nested(self, execution_arn: str, command: ScheduleTask) -> None:
        from stateway.workers.nested import start_failed, start_nested

        try:
            start_nested(self.engine, execution_arn, command)
        except Exception as exc:  # reported as the task's failure, as AWS does for a bad StartExecution
            self.engine.post(execution_arn, start_failed(command.task_id, exc))


class _ReadCancelled(Exception):
    """The read's task is gone: its Map no longer waits for the items."""


class _ItemRows:
    """Stores the runs of items a Map's ItemReader reads as the join data of the join the read names
    (table `join_data`, as the writer stores any join's items), a batch per transaction, while the
    read goes on: the decider reads them back a window at a time once the answer is applied. Each batch
    checks that the read's task row is still there, in the same transaction, so that a read the Map no
    longer waits for stops; the rows it wrote before are the execution's, deleted with its join data."""

    def __init__(self, engine: Engine, execution_arn: str, task_id: str, join_id: str) -> None:
        self.engine, self.execution_arn, self.task_id, self.join_id = engine, execution_arn, task_id, join_id

    def __call__(self, runs: dict[int, str]) -> None:
        store = self.engine.store
        with store.write() as db:
            if db.execute(store.q["task_exists"], (self.execution_arn, self.task_id)).fetchone() is None:
                raise _ReadCancelled
            # Under the write lock, as the writer reads it: the execution has join rows from now on.
            self.engine.writer_known.joinless.discard(self.execution_arn)
            db.executemany(store.q["put_join_data"], [
                (self.execution_arn, self.join_id, "items", first, text) for first, text in runs.items()])
