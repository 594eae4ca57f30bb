"""Express executions: run in memory on the real clock, at-least-once, with a bounded log of results.

An Express state machine never touches the store while it runs: the pure core is driven here by a
small event loop (tasks on a thread pool, timers in a heap). `StartSyncExecution` waits for the end
in the same request; `StartExecution` runs it in the background. The last `log_size` executions are
kept in memory (description and history) — the bounded log that stands in for CloudWatch Logs.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stateway.asl import history, interpreter
from stateway.asl.events import (
    CancelTask,
    CancelTimer,
    CompleteExecution,
    ExecutionInfo,
    Resumed,
    ScheduleTask,
    StartTimer,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    TimerFired,
)
from stateway.asl.model import StateMachine
from stateway.asl.timestamps import format_timestamp
from stateway.engine.env import ShellEnv
from stateway.engine.pool import WorkerPool
from stateway.engine.service import execution_description
from stateway.workers import python as pyfunctions
from stateway.workers.function_task import function_target, idempotency_key, run_function_task

# AWS's limit on an Express execution's duration.
MAX_DURATION_SECONDS = 300
# An Express execution has no history quota, and a loop may record millions of events in its five
# minutes: its in-memory log keeps the latest this many (the ids say what was let go of).
LOGGED_EVENTS = 25_000

if TYPE_CHECKING:
    from stateway.engine.service import Service


@dataclass
class ExpressExecution:
    """One Express execution's record: what DescribeExecution and StartSyncExecution answer."""

    execution_arn: str
    state_machine_arn: str
    name: str
    input: str
    start_ms: int
    role_arn: str = ""
    status: str = "RUNNING"
    stop_ms: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOGGED_EVENTS))
    done: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        return execution_description({
            "arn": self.execution_arn, "state_machine_arn": self.state_machine_arn, "name": self.name,
            "status": self.status, "start_ms": self.start_ms, "stop_ms": self.stop_ms, "input": self.input,
            "output": self.output, "error": self.error, "cause": self.cause,
        })

    def sync_response(self) -> dict[str, Any]:
        out = self.describe()
        if self.output is None:
            out["outputDetails"] = {"included": True}
        duration = max(0, (self.stop_ms or self.start_ms) - self.start_ms)
        # AWS bills in 100 ms steps with 64 MB as the smallest memory unit.
        out["billingDetails"] = {"billedMemoryUsedInMB": 64,
                                 "billedDurationInMilliseconds": max(100, -(-duration // 100) * 100)}
        return out


class ExpressRunner:
    """Runs Express executions with the engine's functions; keeps a bounded log of recent ones."""

    def __init__(self, functions: Mapping[str, pyfunctions.Handler], *, service: Service | None = None,
                 region: str = "us-east-1", account: str = "123456789012", role_arn: str = "",
                 log_size: int = 10_000, workers: int = 32, payload_limit_bytes: int = 262_144,
                 max_duration_seconds: int = MAX_DURATION_SECONDS,
                 function_timeout_seconds: float = pyfunctions.DEFAULT_TIMEOUT_SECONDS) -> None:
        self.functions = functions
        self.function_timeout_seconds = function_timeout_seconds
        self.max_duration_seconds = max_duration_seconds
        self.service = service
        self.region = region
        self.account = account
        self.role_arn = role_arn
        self.log_size = log_size
        self.payload_limit_bytes = payload_limit_bytes
        self._log: OrderedDict[str, ExpressExecution] = OrderedDict()
        self._lock = threading.Lock()
        # A function that outlives its timeout is given up on, and its thread no longer counts among these.
        self._pool = WorkerPool(workers, "stateway-express")

    def shutdown(self) -> None:
        self._pool.shutdown()

    def execution_arn(self, machine_name: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:express:{machine_name}:{name}:{uuid.uuid4()}"

    def get(self, execution_arn: str) -> ExpressExecution | None:
        with self._lock:
            return self._log.get(execution_arn)

    def executions_of(self, state_machine_arn: str) -> list[ExpressExecution]:
        with self._lock:
            return [e for e in reversed(self._log.values()) if e.state_machine_arn == state_machine_arn]

    def _remember(self, record: ExpressExecution) -> None:
        with self._lock:
            self._log[record.execution_arn] = record
            while len(self._log) > self.log_size:
                self._log.popitem(last=False)

    def start(self, machine: StateMachine, state_machine_arn: str, name: str, input_text: str,
              role_arn: str | None = None) -> ExpressExecution:
        """Begin in the background; the record fills in when the execution ends."""
        record = self._record(state_machine_arn, name, input_text, role_arn)
        threading.Thread(target=self._run, args=(machine, record), name="stateway-express-run",
                         daemon=True).start()
        return record

    def run_sync(self, machine: StateMachine, state_machine_arn: str, name: str, input_text: str,
                 role_arn: str | None = None) -> ExpressExecution:
        """Run to the end in this thread (StartSyncExecution)."""
        record = self._record(state_machine_arn, name, input_text, role_arn)
        self._run(machine, record)
        return record

    def _record(self, state_machine_arn: str, name: str, input_text: str, role_arn: str | None
                ) -> ExpressExecution:
        machine_name = state_machine_arn.split(":")[6]
        record = ExpressExecution(self.execution_arn(machine_name, name), state_machine_arn, name, input_text,
                                  int(time.time() * 1000), role_arn or self.role_arn)
        self._remember(record)
        return record

    def _run(self, machine: StateMachine, record: ExpressExecution) -> None:
        # An Express execution lasts five minutes at most: beyond, it times out as TimeoutSeconds does.
        machine = machine.lasting_at_most(self.max_duration_seconds)
        try:
            done = self._loop(machine, record)
        except Exception as exc:  # a bug must end the execution, never hang the caller
            done = CompleteExecution("FAILED", error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
        record.status, record.output, record.error, record.cause = done.status, done.output, done.error, done.cause
        # The closing event's timestamp, as for Standard executions: one clock reading for both.
        record.stop_ms = history.stop_ms(record.events, int(time.time() * 1000))
        record.done.set()

    def _loop(self, machine: StateMachine, record: ExpressExecution) -> CompleteExecution:
        env = ShellEnv(int(time.time() * 1000), self.payload_limit_bytes)
        env.now_ms = record.start_ms
        machine_name = record.state_machine_arn.split(":")[6]
        info = ExecutionInfo(record.execution_arn, record.name, record.state_machine_arn, machine_name,
                             record.role_arn, record.input, record.start_ms)
        inbox: queue.Queue[Any] = queue.Queue()
        timers: list[tuple[int, str]] = []
        live: set[str] = set()
        done: CompleteExecution | None = None
        paused = False

        def absorb(step: interpreter.Step) -> None:
            nonlocal done, paused
            paused = step.paused
            record.events.extend(step.events)
            for command in step.commands:
                if isinstance(command, ScheduleTask):
                    live.add(command.task_id)
                    self._pool.submit(self._perform, command, record.execution_arn, inbox)
                elif isinstance(command, StartTimer):
                    heapq.heappush(timers, (command.due_ms, command.timer_id))
                elif isinstance(command, CancelTask):
                    live.discard(command.task_id)
                elif isinstance(command, CancelTimer):
                    timers[:] = [t for t in timers if t[1] != command.timer_id]
                    heapq.heapify(timers)
                elif isinstance(command, CompleteExecution):
                    done = command

        step = interpreter.start(machine, info, env)
        snapshot = step.snapshot
        absorb(step)
        while done is None:
            now = int(time.time() * 1000)
            if timers and timers[0][0] <= now:
                _, timer_id = heapq.heappop(timers)
                event: Any = TimerFired(timer_id)
            elif paused:  # states left to run: a due timer (the five minutes) goes first, nothing waits
                event = Resumed()
            else:
                wait = (timers[0][0] - now) / 1000 if timers else None
                if wait is None and not live:
                    return CompleteExecution("FAILED", error="States.Runtime",
                                             cause="The execution is waiting for nothing that can answer it.")
                try:
                    event = inbox.get(timeout=wait)
                except queue.Empty:
                    continue
                task_id = getattr(event, "task_id", None)
                if task_id not in live:
                    continue  # a cancelled task's late answer
                if not isinstance(event, TaskStarted):
                    live.discard(task_id)
            env.now_ms = max(env.now_ms, int(time.time() * 1000))
            step = interpreter.advance(machine, snapshot, event, env)
            snapshot = step.snapshot
            absorb(step)
        return done

    def _perform(self, command: ScheduleTask, execution_arn: str, inbox: queue.Queue[Any]) -> None:
        try:
            for event in self._task_events(command, execution_arn, inbox):
                inbox.put(event)
        except Exception as exc:
            inbox.put(TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}"))

    def task_events(self, command: ScheduleTask, execution_arn: str) -> list[Any]:
        """Run one task to its end in this thread (TestState's unmocked tasks): the core events it produced."""
        try:
            return self._task_events(command, execution_arn)
        except Exception as exc:
            return [TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}")]

    def _task_events(self, command: ScheduleTask, execution_arn: str,
                     inbox: queue.Queue[Any] | None = None) -> list[Any]:
        """The task's events; on a worker of the pool (`inbox` given), a function that outlives its timeout
        reports it to `inbox` at once and its late result is dropped."""
        started = TaskStarted(command.task_id)
        if command.resource_type == "states" and command.service_resource == "startExecution" \
                and self.service is not None:
            params = command.input if isinstance(command.input, dict) else {}
            from stateway.asl import jsontext

            child_input = params.get("Input", {})
            text = child_input if isinstance(child_input, str) else jsontext.dumps(child_input)
            child = self.service.start_execution(str(params.get("StateMachineArn", "")), input_text=text,
                                                 name=params.get("Name"))
            started_ms = int(self.service.describe_execution(child)["startDate"].timestamp() * 1000)
            return [started, TaskSucceeded(command.task_id, {"ExecutionArn": child,
                                                             "StartDate": format_timestamp(started_ms)})]
        if function_target(command) is None:
            return [started, TaskFailed(command.task_id, "States.Runtime",
                                        f"No task handler is configured for the resource '{command.resource}'.")]
        key = idempotency_key(execution_arn, command)
        if inbox is not None:
            inbox.put(started)  # before a timeout can be reported
        outcome = run_function_task(command, self.functions, region=self.region, account=self.account,
                                    idempotency_key=key, default_timeout_seconds=self.function_timeout_seconds,
                                    watch=self._pool.limit if inbox is not None else None,
                                    on_timeout=inbox.put if inbox is not None else None)
        events = [] if inbox is not None else [started]
        return events if outcome is None else [*events, outcome]
