"""Runs a state machine to its end in memory: the pure core plus local functions and a virtual clock.

Timers (Wait states, retry back-off) fire at once by moving the virtual clock forward, so a Wait of
a week costs nothing; task functions run for real, with their `TimeoutSeconds` enforced in real time.
"""

from __future__ import annotations

import heapq
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stateway.asl import interpreter, jsontext
from stateway.asl import snapshot as snapshot_codec
from stateway.asl.events import (
    READ_ITEMS,
    WRITE_RESULTS,
    CancelTask,
    CancelTimer,
    ChildExecutionChanged,
    CompleteExecution,
    Event,
    ExecutionInfo,
    ScheduleTask,
    StartTimer,
    TaskFailed,
    TaskStarted,
    TimerFired,
)
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.engine import arns
from stateway.engine.env import ShellEnv
from stateway.engine.errors import InvalidName
from stateway.engine.runtime import MAX_DURATION_SECONDS
from stateway.engine.service import execution_description
from stateway.objects import ObjectStore
from stateway.objects.directory import DirectoryObjectStore
from stateway.workers import python as pyfunctions
from stateway.workers import registry
from stateway.workers.function_task import function_target, idempotency_key, run_function_task
from stateway.workers.item_reader import read_items
from stateway.workers.result_writer import child_changed, child_results, write_results

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


# The local runner's environment: real UUIDs and jitter, and a clock the runner moves itself.
VirtualEnv = ShellEnv


@dataclass
class ExecutionResult:
    """The end of a local run, shaped like DescribeExecution plus GetExecutionHistory's events."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str
    input: str
    start_date: datetime
    stop_date: datetime
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output_value(self) -> Any:
        return jsontext.loads(self.output) if self.output is not None else None

    def describe(self) -> dict[str, Any]:
        """DescribeExecution's response fields."""
        return execution_description({
            "arn": self.execution_arn, "state_machine_arn": self.state_machine_arn, "name": self.name,
            "status": self.status, "start_ms": int(self.start_date.timestamp() * 1000),
            "stop_ms": int(self.stop_date.timestamp() * 1000), "input": self.input, "output": self.output,
            "error": self.error, "cause": self.cause,
        })


class LocalRunner:
    """Run definitions to completion with Lambda-style Python functions, keyed by function name."""

    def __init__(self, functions: Mapping[str, pyfunctions.Handler] | None = None, *,
                 region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 role_arn: str | None = None, max_steps: int = 1_000_000,
                 store_snapshots: bool = False,
                 function_timeout_seconds: float = pyfunctions.DEFAULT_TIMEOUT_SECONDS,
                 object_store: ObjectStore | str | os.PathLike[str] | None = None) -> None:
        """`object_store`: where distributed Maps' ItemReader and ResultWriter find S3's buckets (an
        `ObjectStore`, or a directory whose subdirectories are the buckets)."""
        self.functions = registry.keyed(functions)
        self.object_store = DirectoryObjectStore(object_store) if isinstance(object_store, str | os.PathLike) \
            else object_store
        # The child executions of each Map Run, by (attempt, index), as the run's commands told of them.
        self._children: dict[str, dict[tuple[int, int], dict[str, Any]]] = {}
        # How long a function without a timeout of its own may run (on the real clock, as on Lambda).
        self.function_timeout_seconds = pyfunctions.valid_timeout(function_timeout_seconds)
        self.region = region
        self.account = account
        self.role_arn = role_arn or f"arn:aws:iam::{account}:role/stateway-local"
        self.max_steps = max_steps
        # Round-trip the snapshot through its stored JSON form after every step, as the durable
        # runtime does after a restart; tests use it to prove nothing is lost in storage.
        self.store_snapshots = store_snapshots

    def run(self, definition: dict[str, Any] | str | StateMachine, input: Any = None, *,
            name: str | None = None, state_machine_name: str = "StateMachine",
            input_text: str | None = None) -> ExecutionResult:
        machine = definition if isinstance(definition, StateMachine) else parse_machine(definition)
        machine = machine.lasting_at_most(MAX_DURATION_SECONDS)  # a Standard execution's year, as the engine's
        if name is not None and not arns.valid_name(name):
            raise InvalidName(f"Invalid Name: '{name}'")  # as StartExecution refuses it
        name = name or str(uuid.uuid4())
        if input_text is None:
            input_text = jsontext.dumps({} if input is None else input)
        sm_arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{state_machine_name}"
        exec_arn = f"arn:aws:states:{self.region}:{self.account}:execution:{state_machine_name}:{name}"
        env = VirtualEnv(int(time.time() * 1000))
        info = ExecutionInfo(exec_arn, name, sm_arn, state_machine_name, self.role_arn, input_text, env.now_ms)
        start_date = datetime.now(UTC)
        step = interpreter.start(machine, info, env)
        snapshot = step.snapshot
        events = list(step.events)
        tasks: dict[str, ScheduleTask] = {}
        timers: list[tuple[int, str]] = []
        done: CompleteExecution | None = None

        def absorb(commands: list[Any]) -> None:
            nonlocal done
            for command in commands:
                if isinstance(command, ChildExecutionChanged):  # what a ResultWriter writes of them
                    self._children.setdefault(command.map_run_arn, {})
                    child_changed(self._children[command.map_run_arn], command)
                elif isinstance(command, ScheduleTask):
                    tasks[command.task_id] = command
                elif isinstance(command, StartTimer):
                    heapq.heappush(timers, (command.due_ms, command.timer_id))
                elif isinstance(command, CancelTask):
                    tasks.pop(command.task_id, None)
                elif isinstance(command, CancelTimer):
                    timers[:] = [t for t in timers if t[1] != command.timer_id]
                    heapq.heapify(timers)
                elif isinstance(command, CompleteExecution):
                    done = command

        def feed(event: Event) -> None:
            nonlocal snapshot
            if self.store_snapshots:
                snapshot = snapshot_codec.loads(snapshot_codec.dumps(snapshot))
            step = interpreter.advance(machine, snapshot, event, env)
            snapshot = step.snapshot
            events.extend(step.events)
            absorb(step.commands)

        absorb(step.commands)
        steps = 0
        while done is None and steps < self.max_steps:
            steps += 1
            if tasks:
                task_id = next(iter(tasks))
                command = tasks.pop(task_id)
                for event in self._perform(command, env, exec_arn):
                    if done is None:
                        feed(event)
            elif timers:
                due, timer_id = heapq.heappop(timers)
                env.now_ms = max(env.now_ms, due)
                feed(TimerFired(timer_id))
            else:
                break  # waiting for something no local runner can answer (a task token, say)
        return ExecutionResult(
            execution_arn=exec_arn, state_machine_arn=sm_arn, name=name,
            status=done.status if done else "RUNNING", input=input_text, start_date=start_date,
            stop_date=datetime.now(UTC), output=done.output if done else None,
            error=done.error if done else None, cause=done.cause if done else None,
            events=[_with_datetime(e) for e in events],
        )

    def _perform(self, command: ScheduleTask, env: VirtualEnv, execution_arn: str) -> list[Event]:
        """Run one task now; returns the events that report it (started, then the outcome)."""
        if command.kind == READ_ITEMS:  # a distributed Map's ItemReader: no task events
            return [read_items(self.object_store, command)]
        if command.kind == WRITE_RESULTS:  # a distributed Map's ResultWriter: no task events
            map_run_arn = str((command.input or {}).get("MapRunArn", ""))
            return [write_results(self.object_store, command,
                                  lambda: child_results(map_run_arn, self._children.get(map_run_arn, {})))]
        started = TaskStarted(command.task_id)
        if function_target(command) is None:
            if command.task_token is not None:
                return [started]  # the answer must come from outside: nothing more happens locally
            return [started, TaskFailed(command.task_id, "States.Runtime",
                                        f"stateway cannot run the resource '{command.resource}' locally")]
        before = time.monotonic()
        outcome = run_function_task(
            command, self.functions, region=self.region, account=self.account,
            idempotency_key=idempotency_key(execution_arn, command),
            default_timeout_seconds=self.function_timeout_seconds)
        assert outcome is not None  # only a call bounded by a watch ends without one
        env.now_ms += int((time.monotonic() - before) * 1000)
        return [started, outcome]


def _with_datetime(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out["timestamp"] = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
    return out
