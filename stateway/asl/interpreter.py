"""The pure interpreter: `advance(machine, snapshot, event, env) -> Step(snapshot, events, commands)`.

An execution is a tree of frames: the root frame walks the top-level states, each Parallel branch
and each Map iteration is a child frame. The core runs Pass, Choice, Succeed and Fail inline and
stops when it needs the world: a task to run, a timer, or the end. `advance` takes ownership of
the snapshot it is given and returns the next one.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from stateway.asl import choice, history, jsontext, paths
from stateway.asl.causes import limit_cause, shown
from stateway.asl.child_names import child_execution_arn, child_state_machine_arn
from stateway.asl.containers import ContainerStates, takes_items_as_text
from stateway.asl.errors import ErrorName, Failure, FailureError
from stateway.asl.events import (
    CancelTask,
    CancelTimer,
    Command,
    CompleteExecution,
    Env,
    Event,
    ExecutionInfo,
    ExecutionStarted,
    ItemsRead,
    MapRunUpdated,
    RedriveRequested,
    ScheduleTask,
    StartTimer,
    StateMachineDeleted,
    Step,
    StopRequested,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stateway.asl.frames import (
    REDRIVABLE_STATUSES,
    ROOT,
    RUNNING,
    STORED,
    UNPARSED,
    Frame,
    Join,
    Snapshot,
    frame_path,
)
from stateway.asl.jsonata_states import JsonataStates
from stateway.asl.model import UNSET, Program, QueryLanguage, State, StateMachine, StateType, is_set
from stateway.asl.payload import apply_input_path, apply_result_path, apply_template
from stateway.asl.resources import parse_resource
from stateway.asl.retry import error_matches, retry_delay_ms
from stateway.asl.timestamps import MAX_SECONDS, clamp_ms, format_timestamp, parse_timestamp
from stateway.asl.variables import checked_assignment

__all__ = ["ROOT", "RUNNING", "Frame", "Join", "Snapshot", "advance", "start"]

# Step Functions' payload quota (256 KiB); the shell may set `payload_limit_bytes` on its Env.
DEFAULT_PAYLOAD_LIMIT_BYTES = 262_144
# Step Functions' hard quota of events in a Standard execution's history: event 25,000 may only end it.
MAX_HISTORY_EVENTS = 25_000
HISTORY_LIMIT_CAUSE = f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
# An execution without that quota (Express) pauses a step after this many events, so that a loop that
# never waits gives its shell the turn (to time it out, say) instead of running on in one call.
STEP_EVENT_BUDGET = 10_000
# Data nested deeper than the store can hold (`jsontext.MAX_DEPTH`), in the words of Jackson's limit.
TOO_DEEP_CAUSE = f"Document nesting depth exceeds the maximum allowed ({jsontext.MAX_DEPTH})"
# The largest Java long: AWS reads seconds as one.
LONG_MAX = 2**63 - 1
# From this length an execution input that a Map runs on is kept as text (`first_input`); a shorter one
# costs less to parse whole than to walk a part at a time.
LARGE_INPUT_CHARS = 16_384

# Event names per state type, built once: every transition records an Entered and an Exited event.
_ENTERED = {kind: f"{kind.value}StateEntered" for kind in StateType}
_EXITED = {kind: f"{kind.value}StateExited" for kind in StateType}

# A Task state's Resource is parsed once, not on every run of the state.
_resource = lru_cache(maxsize=4096)(parse_resource)


def start(machine: StateMachine, execution: ExecutionInfo, env: Env) -> Step:
    """Begin an execution: ExecutionStarted, then run until the first wait or the end."""
    snapshot = Snapshot(execution=execution)
    return advance(machine, snapshot, ExecutionStarted(execution), env)


def advance(machine: StateMachine, snapshot: Snapshot, event: Event, env: Env) -> Step:
    """Apply one event to an execution and run it until it waits for the world again."""
    run = _Run(machine, snapshot, env)
    try:
        run.handle(event)
        run.drain()
    except _HistoryLimitReached:
        run.history_limit_reached()
    run.settle_inputs()
    return Step(snapshot=snapshot, events=run.events, commands=run.commands, paused=bool(snapshot.ready),
                child_events=run.child_events)


class _HistoryLimitReached(Exception):
    """The next event would be the history's last and does not end the execution: the step stops."""


class _Run(ContainerStates, JsonataStates):
    """One `advance` call's working set: the snapshot being changed, new events and commands."""

    def __init__(self, machine: StateMachine, snapshot: Snapshot, env: Env) -> None:
        self.machine = machine
        self.snap = snapshot
        self.env = env
        self.now = env.now_ms
        self.events: list[dict[str, Any]] = []
        self.commands: list[Command] = []
        # Events of child executions (`Step.child_events`); and the same lists by the id of the frame that
        # runs each child, so that a child's events are found with one look-up.
        self.child_events: dict[tuple[str, int], list[list[Any]]] = {}
        self.child_logs: dict[str, list[list[Any]]] = {}
        self._texts: dict[int, tuple[Any, str]] = {}
        self.payload_limit = getattr(env, "payload_limit_bytes", DEFAULT_PAYLOAD_LIMIT_BYTES)
        # Express executions have no history quota (they are limited by their five minutes instead).
        self.history_limit = None if ":express:" in snapshot.execution.execution_arn else MAX_HISTORY_EVENTS
        # The shell stores the Map Runs (and their child executions) of Standard executions only.
        self.records_children = self.history_limit is not None
        self.budget = STEP_EVENT_BUDGET if self.history_limit is None else None
        # What a paused step left to run goes first, whatever event comes next.
        self.queue, snapshot.ready = snapshot.ready, []
        # Frames whose join ended without reading back their input, which the shell had stored apart
        # (a Map's output does not need it): read back only if Retry, Catch or a failure needs it.
        self.unread_inputs: dict[str, Join] = {}

    # ---- plumbing --------------------------------------------------------------------------

    def text(self, value: Any) -> str:
        """JSON text of a value, computed once per object within this step: a state's input is
        usually the TaskScheduled input too, and its output the task's result. The core never
        mutates a value it has passed on, so an object's text cannot change within a step.

        Every state's input, output and task result is written to history through here, so this is
        where data nested deeper than `jsontext.MAX_DEPTH` is stopped (raising `States.Runtime`),
        before the shell must store it."""
        kind = type(value)
        if kind is not dict and kind is not list and kind is not jsontext.RawJson:
            return jsontext.dumps(value)
        known = self._texts.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        try:
            text = jsontext.dumps(value)
        except RecursionError:  # deeper than the encoder goes, so deeper than MAX_DEPTH
            raise FailureError(ErrorName.RUNTIME.value, TOO_DEEP_CAUSE) from None
        if jsontext.nests_deeper(text):
            raise FailureError(ErrorName.RUNTIME.value, TOO_DEEP_CAUSE)
        self._texts[id(value)] = (value, text)
        return text

    def emit(self, frame: Frame | None, event_type: str, details: dict[str, Any] | None = None,
             *, prev: int | None = None, move: bool = True, at: int | None = None) -> int:
        if frame is not None and frame.silent:  # inside a Map Run: its events belong to a child execution
            return self.emit_in_child(frame, event_type, details, prev, move, at)
        event_id = self.snap.next_event_id
        if self.history_limit is not None and event_id >= self.history_limit \
                and event_type not in history.CLOSING_EVENTS:
            raise _HistoryLimitReached
        self.snap.next_event_id += 1
        previous = prev if prev is not None else (frame.prev if frame is not None else 0)
        self.events.append(history.event(event_id, previous, self.now if at is None else at, event_type, details))
        if frame is not None and move:
            frame.prev = event_id
        return event_id

    def emit_in_child(self, frame: Frame, event_type: str, details: dict[str, Any] | None, prev: int | None,
                      move: bool, at: int | None) -> int:
        """`emit` for a frame of a distributed Map's child execution: the event goes to the child's own
        history (`Step.child_events`), numbered within it — or nowhere, for a child whose events are not
        recorded (`Frame.execution_next_event_id`)."""
        child = frame if frame.execution_start_ms is not None else self.child_root(frame)
        event_id = child.execution_next_event_id if child is not None else 0
        if not event_id:
            return frame.prev
        assert child is not None
        child.execution_next_event_id = event_id + 1
        log = self.child_logs.get(child.id)
        if log is None:
            log = self.child_log(child)
        log.append([event_id, frame.prev if prev is None else prev, event_type, self.now if at is None else at,
                    details])
        if move:
            frame.prev = event_id
        return event_id

    def last_event_in(self, frame: Frame) -> int:
        """The last event so far of the history `frame`'s events go to: this execution's, or its child
        execution's."""
        child = self.child_root(frame) if frame.silent else None
        if child is None or not child.execution_next_event_id:  # (a child's unrecorded events chain to this one's)
            return self.last_event_id
        return child.execution_next_event_id - 1

    @property
    def region(self) -> str:
        parts = self.snap.execution.execution_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    @property
    def last_event_id(self) -> int:
        return self.snap.next_event_id - 1

    def next_id(self, prefix: str) -> str:
        self.snap.seq += 1
        return f"{prefix}{self.snap.seq}"

    def program(self, frame: Frame) -> Program:
        return self.machine.programs[frame.program]

    def current(self, frame: Frame) -> State:
        assert frame.state is not None
        return self.program(frame).states[frame.state]

    def execution_input(self) -> Any:
        """The execution's input, parsed from its text once and kept on the snapshot only if the
        machine can read it as `$$.Execution.Input` (a large input is otherwise not held)."""
        if self.snap.input is not UNPARSED:
            return self.snap.input
        value = jsontext.loads(self.snap.execution.input_text)
        if self.machine.reads_execution_input:
            self.snap.input = value
        return value

    def context(self, frame: Frame, state: State | None = None, *, item: tuple[int, Any] | None = None,
                task_token: str | None = None) -> dict[str, Any]:
        ex = self.snap.execution
        child = self.child_execution(frame) if frame.silent else None
        if child is not None:  # inside a child execution of a distributed Map: the context names it
            ctx = self.child_context(*child)
        else:
            # A machine none of whose fields can read `$$.Execution.Input` gets no parse of it: nothing sees it.
            readable = self.machine.reads_execution_input or self.snap.input is not UNPARSED
            ctx = {
                "Execution": {
                    "Id": ex.execution_arn,
                    "Input": self.execution_input() if readable else None,
                    "StartTime": format_timestamp(ex.start_time_ms),
                    "Name": ex.name,
                    "RoleArn": ex.role_arn,
                },
                "StateMachine": {"Id": ex.state_machine_arn, "Name": ex.state_machine_name},
            }
            if ":express:" not in ex.execution_arn:  # Express executions cannot be redriven: no count
                ctx["Execution"]["RedriveCount"] = ex.redrive_count
        ctx["State"] = {"EnteredTime": format_timestamp(frame.entered_time_ms), "Name": frame.state}
        if frame.state is not None and self.current(frame).type is StateType.TASK:
            ctx["State"]["RetryCount"] = frame.retry_count
        if task_token is not None:
            ctx["Task"] = {"Token": task_token}
        if item is not None:
            ctx["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
        return ctx

    def child_context(self, child: Frame, join: Join) -> dict[str, Any]:
        """`$$.Execution` and `$$.StateMachine` inside a Map Run's child execution, as AWS names it: its own
        ARN, name, start time, input and redrive count; its state machine is the Map Run's
        (`MACHINE/LABEL`); its role is its parent's."""
        assert child.execution_start_ms is not None
        name = join.child_name(child.index)
        arn = child_execution_arn(join.map_run_arn, name, join.express_children)
        machine = child_state_machine_arn(join.map_run_arn)
        execution: dict[str, Any] = {
            "Id": arn,
            "Input": child.execution_input,
            "StartTime": format_timestamp(child.execution_start_ms),
            "Name": name,
            "RoleArn": self.snap.execution.role_arn,
        }
        if not join.express_children:  # Express executions cannot be redriven: no count
            execution["RedriveCount"] = child.execution_redrives
        return {"Execution": execution, "StateMachine": {"Id": machine, "Name": machine.split(":")[6]}}

    def settle_input(self, frame: Frame) -> None:
        """Read back the input of a frame whose join ended and left it stored apart (`unread_inputs`)."""
        join = self.unread_inputs.pop(frame.id, None)
        if join is not None and frame.state_input is STORED:
            frame.state_input = join.map_source()
        frame.state_input = jsontext.materialize(frame.state_input)  # a Map's input kept as text

    def settle_inputs(self) -> None:
        """At the end of a step, no frame keeps an input left stored apart by an ended join: the frame
        failed or stopped where a redrive reads it (a succeeded execution never runs again)."""
        for frame_id in list(self.unread_inputs):
            frame = self.snap.frames.get(frame_id)
            if frame is not None and self.snap.status == "SUCCEEDED" and frame.state_input is STORED:
                frame.state_input = None
            elif frame is not None:
                self.settle_input(frame)

    def drain(self) -> None:
        while self.queue:
            if self.budget is not None and len(self.events) >= self.budget and self.snap.status == RUNNING:
                self.snap.ready, self.queue = self.queue, []
                return
            frame_id = self.queue.pop(0)
            frame = self.snap.frames.get(frame_id)
            if frame is not None and not frame.done and frame.waiting is None and self.snap.status == RUNNING:
                self.execute(frame)

    # ---- events into the core --------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if isinstance(event, TaskSucceeded):  # the common case first: every Task state ends with one
            if self.snap.status == RUNNING:
                frame = self.pop_task(event.task_id)
                if frame is not None and frame.join is not None and frame.task_resource is None:
                    self.results_written(frame, event.output)  # a Map's ResultWriter
                elif frame is not None:
                    self.on_task_succeeded(frame, event.output)
            return
        if isinstance(event, ExecutionStarted):
            self.on_started(event)
            return
        if isinstance(event, RedriveRequested):
            self.on_redrive(self.now if event.redrive_ms is None else event.redrive_ms)
            return
        if self.snap.status != RUNNING:
            return  # late answers to a finished execution are ignored
        if isinstance(event, TaskStarted):
            frame = self.task_frame(event.task_id)
            if frame is not None and frame.task_resource is not None:
                family = history.task_family(frame.task_resource)
                details = history.task_started_details(frame.task_resource, event.worker_name)
                self.emit(frame, f"{family}Started", details)
        elif isinstance(event, TaskSubmitted):
            frame = self.task_frame(event.task_id)
            if frame is not None and frame.task_resource is not None and not frame.task_submitted:
                frame.task_submitted = True  # a re-run after a crash may report it twice
                output_text = self.result_text(frame, event.output)
                if isinstance(output_text, Failure):  # too deep or too large to record: as with a result
                    self.pop_task(event.task_id)
                    self.commands.append(CancelTask(event.task_id))  # no answer to its token is taken
                    self.on_task_failed(frame, output_text, "Failed")
                    return
                self.emit(frame, "TaskSubmitted", history.task_result_details(frame.task_resource, output_text))
        elif isinstance(event, TaskFailed):
            frame = self.pop_task(event.task_id)
            if frame is not None and frame.join is not None and frame.task_resource is None:
                self.items_failed(frame, Failure(event.error or "", event.cause))  # a Map's ItemReader
            elif frame is not None:
                self.on_task_failed(frame, Failure(event.error or "", event.cause), "Failed")
        elif isinstance(event, ItemsRead):
            frame = self.pop_task(event.task_id)
            if frame is not None:
                self.items_read(frame, event)
        elif isinstance(event, TaskTimedOut):
            frame = self.pop_task(event.task_id)
            if frame is not None:
                self.on_task_failed(frame, Failure(event.error, event.cause), "TimedOut")
        elif isinstance(event, TimerFired):
            self.on_timer(event.timer_id)
        elif isinstance(event, MapRunUpdated):
            self.update_map_run(event)
        elif isinstance(event, StopRequested):
            details = {k: v for k, v in (("error", event.error), ("cause", event.cause)) if v is not None}
            self.finish_execution("ABORTED", None, event.error, event.cause, "ExecutionAborted", details)
        elif isinstance(event, StateMachineDeleted):
            # AWS's words, as its executions of a deleted state machine fail (ExecutionFailed).
            cause = f"State machine {self.snap.execution.state_machine_name} has been deleted."
            self.finish_execution("FAILED", None, "States.Runtime", cause, "ExecutionFailed",
                                  {"error": "States.Runtime", "cause": cause})

    def task_frame(self, task_id: str) -> Frame | None:
        frame_id = self.snap.tasks.get(task_id)
        return self.snap.frames.get(frame_id) if frame_id else None

    def pop_task(self, task_id: str) -> Frame | None:
        frame_id = self.snap.tasks.pop(task_id, None)
        frame = self.snap.frames.get(frame_id) if frame_id else None
        if frame is None or frame.task_id != task_id:
            return None
        frame.waiting = None
        frame.task_id = None
        return frame

    def on_started(self, event: ExecutionStarted) -> None:
        ex = event.execution
        root = Frame(id=ROOT, program="")
        self.snap.frames[ROOT] = root
        # The first state's events chain to 0, not to ExecutionStarted, as AWS records them.
        self.emit(root, "ExecutionStarted", history.execution_started_details(ex.input_text, ex.role_arn), move=False)
        self.start_execution_timeout(ex.start_time_ms)
        try:
            self.enter(root, self.machine.program.start_at, self.first_input())
        except FailureError as error:  # an input too deep to hold (StartExecution allows Jackson's depth)
            self.frame_failed(root, error.failure)
            return
        self.queue.append(ROOT)

    def start_execution_timeout(self, since_ms: int) -> None:
        """The machine's `TimeoutSeconds`, counted from `since_ms`, as a timer (the one timer of no frame)."""
        if self.machine.timeout_seconds:
            timer_id = self.next_id("t")
            self.snap.timers[timer_id] = ""
            due = clamp_ms(since_ms + self.machine.timeout_seconds * 1000)
            self.commands.append(StartTimer(timer_id, due, "execution_timeout"))

    def first_input(self) -> Any:
        """The first state's input: the execution input, parsed; but a large one for a Map that
        `takes_items_as_text` stays text — in the compact form history shows, built a part at a time."""
        text = self.snap.execution.input_text
        first = self.machine.program.states[self.machine.program.start_at]
        if len(text) >= LARGE_INPUT_CHARS and not self.machine.reads_execution_input and takes_items_as_text(first):
            compact = jsontext.compact(text)
            if compact is not None:
                return jsontext.RawJson(compact)
        return self.execution_input()

    def on_redrive(self, redrive_ms: int) -> None:
        """Continue a stopped execution from the state where it stopped (RedriveExecution at `redrive_ms`)."""
        if self.snap.status not in REDRIVABLE_STATUSES:
            return
        root = self.snap.frames[ROOT]
        retained = root.join or root.failed_join
        if root.join is not None:  # stopped while waiting for its children: its input may be stored apart
            self.restore_input(root, root.join)
        # Only the child executions of its Map Run that a redrive continues where they stopped stay.
        kept = self.kept_frame_ids(retained)
        for frame_id in [f for f in self.snap.frames if f != ROOT and f not in kept]:
            del self.snap.frames[frame_id]
        self.snap.status = RUNNING
        self.snap.output = self.snap.error = self.snap.cause = None
        count = self.snap.execution.redrive_count + 1
        self.snap.execution = dataclasses.replace(self.snap.execution, redrive_count=count)
        # Stamped with the redriveDate RedriveExecution answered and stored, not the time of this step.
        root.prev = self.emit(None, "ExecutionRedriven", {"redriveCount": count}, prev=self.last_event_id,
                              at=redrive_ms)
        root.done = False
        root.waiting = root.task_id = root.timer_id = None
        root.join = root.failed_join = None
        assert root.state is not None
        self.enter(root, root.state, root.state_input)
        root.redrive_join = retained
        # AWS resets the state machine's timeout on a redrive: it counts again from the redrive.
        self.start_execution_timeout(redrive_ms)
        self.queue.append(ROOT)

    def on_timer(self, timer_id: str) -> None:
        frame_id = self.snap.timers.pop(timer_id, None)
        if frame_id is None:
            return
        if frame_id == "":
            self.finish_execution("TIMED_OUT", None, None, None, "ExecutionTimedOut", {})
            return
        frame = self.snap.frames.get(frame_id)
        if frame is None or frame.timer_id != timer_id:
            return
        reason = frame.waiting
        frame.waiting = None
        frame.timer_id = None
        if reason == "timer":
            state = self.current(frame)
            self.guarded(frame, lambda: self.leave_wait(frame, state))
        else:  # retry back-off elapsed: run the state again without a new StateEntered event
            self.queue.append(frame.id)

    # ---- state entry and exit --------------------------------------------------------------

    def enter(self, frame: Frame, name: str, state_input: Any) -> None:
        state = self.program(frame).states[name]
        frame.step += 1
        frame.state = name
        frame.state_input = state_input
        frame.retry_count = 0
        frame.retry_attempts = {}
        frame.entered_time_ms = self.now
        frame.entered_prev = frame.prev
        if frame.failed_join is not None or frame.redrive_join is not None:  # a Map or Parallel left behind
            self.drop_kept(frame.failed_join)
            self.drop_kept(frame.redrive_join)
            frame.failed_join = frame.redrive_join = None
        frame.entered_event_id = self.emit(frame, _ENTERED[state.type], {
            "input": self.text(state_input),
            "inputDetails": {"truncated": False},
            "name": name,
        })
        # A state reads its input as objects: a value passed on as text (a Map's output) is parsed here,
        # unless the state is a Map that selects its items from the text (and parses them a run at a time).
        if type(state_input) is jsontext.RawJson and not takes_items_as_text(state):
            frame.state_input = jsontext.materialize(state_input)

    def too_large(self, text: str) -> bool:
        """Whether a JSON text is over the payload limit (UTF-8 bytes; a character is 1-4 bytes)."""
        return len(text) * 4 > self.payload_limit and len(text.encode("utf-8")) > self.payload_limit

    def exit_state(self, frame: Frame, state: State, output: Any, next_name: str | None = None,
                   assigned: dict[str, Any] | None = None) -> None:
        try:
            output_text = self.text(output)
            assigned_texts = {k: self.text(v) for k, v in assigned.items()} if assigned else {}
        except FailureError as error:  # nested too deep: as an oversized output, no Catch handles it
            self.frame_failed(frame, self.with_location(frame, error.failure))
            return
        if self.too_large(output_text):
            # An oversized state output cannot be recorded or passed on; no Catch can handle it.
            self.frame_failed(frame, Failure(ErrorName.DATA_LIMIT_EXCEEDED.value, limit_cause(state.name)))
            return
        details: dict[str, Any] = {"name": state.name, "output": output_text,
                                   "outputDetails": {"truncated": False}}
        if assigned:
            details = {"assignedVariables": assigned_texts,
                       "assignedVariablesDetails": {"truncated": False}, **details}
            frame.variables.update(assigned)
        self.emit(frame, _EXITED[state.type], details)
        target = next_name if next_name is not None else state.next
        if state.end and next_name is None or target is None:
            self.frame_succeeded(frame, output)
        else:
            self.enter(frame, target, output)
            self.queue.append(frame.id)

    def guarded(self, frame: Frame, action: Any) -> None:
        """Run a piece of state logic; an ASL failure it raises goes to Retry/Catch."""
        try:
            action()
        except RecursionError:  # a path, template or expression walking data too deep for Python's stack
            self.state_failed(frame, self.with_location(frame, Failure(ErrorName.RUNTIME.value, TOO_DEEP_CAUSE)))
        except FailureError as error:
            failure = self.with_location(frame, error.failure)
            if failure.error == ErrorName.QUERY_EVALUATION_ERROR:
                self.evaluation_failed(frame, failure, error.location)
                state = self.current(frame)
                if state.type in (StateType.MAP, StateType.PARALLEL) and frame.waiting is None:
                    frame.join = None
                    self.container_failed(frame, state, state.type.value, failure)
                    return
            self.state_failed(frame, failure)

    def evaluation_failed(self, frame: Frame, failure: Failure, location: str | None) -> None:
        """AWS records a failed JSONata evaluation as its own event before handling the error."""
        details: dict[str, Any] = {"error": failure.error, "cause": failure.cause}
        if location:
            details["location"] = location
        details["state"] = frame.state
        # Before the state has done anything, the event chains to the one before StateEntered.
        untouched = frame.prev == frame.entered_event_id and self.current(frame).type is not StateType.WAIT
        self.emit(frame, "EvaluationFailed", details, prev=frame.entered_prev if untouched else None)

    def with_location(self, frame: Frame, failure: Failure) -> Failure:
        prefix = "An error occurred while executing the state"
        located = (ErrorName.RUNTIME, ErrorName.QUERY_EVALUATION_ERROR)
        if failure.error in located and not (failure.cause or "").startswith(prefix):
            cause = (f"{prefix} '{frame.state}' (entered at the event id #{frame.entered_event_id}). "
                     f"{failure.cause or ''}")
            return Failure(failure.error, cause)
        return failure

    # ---- running one state -----------------------------------------------------------------

    def execute(self, frame: Frame) -> None:
        state = self.current(frame)
        self.guarded(frame, lambda: self.dispatch(frame, state))

    def dispatch(self, frame: Frame, state: State) -> None:
        kind = state.type
        if kind is StateType.PASS:
            self.run_pass(frame, state)
        elif kind is StateType.TASK:
            self.run_task(frame, state)
        elif kind is StateType.CHOICE:
            self.run_choice(frame, state)
        elif kind is StateType.WAIT:
            self.run_wait(frame, state)
        elif kind is StateType.SUCCEED and state.query_language is QueryLanguage.JSONATA:
            self.ja_leave(frame, state)
        elif kind is StateType.SUCCEED:
            effective = self.input_path(frame, state)
            output = self.output_path(frame, state, effective)
            self.exit_state(frame, state, output)
        elif kind is StateType.FAIL:
            self.run_fail(frame, state)
        elif kind is StateType.PARALLEL:
            self.run_parallel(frame, state)
        elif kind is StateType.MAP:
            self.run_map(frame, state)

    def input_path(self, frame: Frame, state: State) -> Any:
        if not is_set(state.input_path) or state.input_path == "$":
            return frame.state_input
        return apply_input_path(state.input_path, frame.state_input, self.context(frame), frame.variables)

    def output_path(self, frame: Frame, state: State, data: Any) -> Any:
        if not is_set(state.output_path) or state.output_path == "$":
            return data
        return apply_input_path(state.output_path, data, self.context(frame), frame.variables, "OutputPath")

    def template(self, frame: Frame, template: Any, data: Any, field_name: str, **ctx: Any) -> Any:
        return apply_template(template, data, self.context(frame, **ctx), frame.variables, self.env,
                              field_name)

    def assign(self, frame: Frame, state_assign: Any, data: Any) -> dict[str, Any] | None:
        if not is_set(state_assign) or state_assign is None:
            return None
        value = self.template(frame, state_assign, data, "Assign")
        return checked_assignment(dict(value) if isinstance(value, dict) else {})


    def finish_result(self, frame: Frame, state: State, result: Any) -> None:
        """ResultSelector → Assign → ResultPath → OutputPath, then leave the state."""
        if state.query_language is QueryLanguage.JSONATA:
            self.ja_leave(frame, state, result=result)
            return
        if is_set(state.result_selector):
            result = self.template(frame, state.result_selector, result, "ResultSelector")
        assigned = self.assign(frame, state.assign, result)
        result_path = state.result_path if is_set(state.result_path) else "$"
        combined = apply_result_path(result_path, frame.state_input, result)
        output = self.output_path(frame, state, combined)
        self.exit_state(frame, state, output, assigned=assigned)

    def run_pass(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            self.ja_leave(frame, state)
            return
        effective = self.input_path(frame, state)
        if is_set(state.parameters):
            effective = self.template(frame, state.parameters, effective, "Parameters")
        result = state.result if is_set(state.result) else effective
        assigned = self.assign(frame, state.assign, result)
        result_path = state.result_path if is_set(state.result_path) else "$"
        combined = apply_result_path(result_path, frame.state_input, result)
        self.exit_state(frame, state, self.output_path(frame, state, combined), assigned=assigned)

    def run_choice(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            self.run_choice_jsonata(frame, state)
            return
        effective = self.input_path(frame, state)
        ctx = self.context(frame)
        for rule in state.choices:
            if choice.evaluate_choice_rule(rule, effective, ctx, frame.variables):
                assigned = self.assign(frame, getattr(rule, "assign", UNSET), effective)
                self.exit_state(frame, state, self.output_path(frame, state, effective), rule.next,
                                assigned=assigned)
                return
        if state.default is not None:
            assigned = self.assign(frame, state.assign, effective)
            self.exit_state(frame, state, self.output_path(frame, state, effective), state.default,
                            assigned=assigned)
            return
        raise FailureError(ErrorName.NO_CHOICE_MATCHED.value, None)

    def run_fail(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            states = self.states_binding(frame)
            error = self.ja_value(frame, state.error, "Error", states) if is_set(state.error) else None
            cause = self.ja_value(frame, state.cause, "Cause", states) if is_set(state.cause) else None
            self.frame_failed(frame, Failure(error or "", cause), via_fail_state=True)
            return
        ctx = self.context(frame)
        error = state.error if is_set(state.error) else None
        cause = state.cause if is_set(state.cause) else None
        if state.error_path:
            error = self.fail_path(state.error_path, frame, ctx)
        if state.cause_path:
            cause = self.fail_path(state.cause_path, frame, ctx)
        self.frame_failed(frame, Failure(error or "", cause), via_fail_state=True)

    def fail_path(self, path: str, frame: Frame, ctx: Any) -> Any:
        from stateway.asl import intrinsics

        if intrinsics.is_intrinsic(path):
            return intrinsics.evaluate_intrinsic(path, frame.state_input, ctx, frame.variables, self.env)
        return paths.evaluate_path(path, frame.state_input, ctx, frame.variables)

    def run_wait(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            frame.effective_input = frame.state_input
            due = self.wait_due_jsonata(frame, state)
        else:
            effective = self.input_path(frame, state)
            frame.effective_input = effective
            due = self.wait_due(frame, state, effective)
        if due <= self.now:
            self.leave_wait(frame, state)
            return
        timer_id = self.next_id("t")
        frame.waiting = "timer"
        frame.timer_id = timer_id
        self.snap.timers[timer_id] = frame.id
        self.commands.append(StartTimer(timer_id, clamp_ms(due), "wait"))

    def leave_wait(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            self.ja_leave(frame, state)
        else:
            self.exit_state(frame, state, self.output_path(frame, state, frame.effective_input))

    def wait_due(self, frame: Frame, state: State, effective: Any) -> int:
        if is_set(state.seconds):
            return self.now + int(state.seconds) * 1000
        if is_set(state.timestamp):
            due = parse_timestamp(state.timestamp)
            return due if due is not None else self.now
        ctx = self.context(frame)
        if state.seconds_path:
            try:
                value = paths.evaluate_path(state.seconds_path, effective, ctx, frame.variables)
            except paths.PathNotFound:
                raise FailureError(ErrorName.RUNTIME.value, "The SecondsPath parameter does not reference "
                                   f"an input value: {state.seconds_path}") from None
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    isinstance(value, float) and not value.is_integer()):
                raise FailureError(ErrorName.RUNTIME.value, "The SecondsPath parameter cannot be parsed as a "
                                   f"long value: {state.seconds_path} == {shown(value)}")
            if value < 0:
                raise FailureError(ErrorName.RUNTIME.value, "The SecondsPath parameter references a negative "
                                   f"value: {state.seconds_path} == {shown(value)}")
            if value > LONG_MAX:  # AWS reads it as a Java long
                raise FailureError(ErrorName.RUNTIME.value, "The SecondsPath parameter cannot be parsed as a "
                                   f"long value: {state.seconds_path} == {shown(value)}")
            return self.now + int(value) * 1000
        if state.timestamp_path:
            try:
                value = paths.evaluate_path(state.timestamp_path, effective, ctx, frame.variables)
            except paths.PathNotFound:
                value = None
            due = parse_timestamp(value) if isinstance(value, str) else None
            if due is None:
                raise FailureError(ErrorName.RUNTIME.value, "The TimestampPath parameter does not reference a "
                                   "valid ISO-8601 extended offset date-time format string: "
                                   f"{state.timestamp_path} == {shown(value)}")
            return due
        return self.now

    # ---- Task ------------------------------------------------------------------------------

    def run_task(self, frame: Frame, state: State) -> None:
        assert state.resource is not None
        ref = _resource(state.resource)
        token = self.env.uuid4() if ref.wait_for_task_token else None
        if state.query_language is QueryLanguage.JSONATA:
            states = self.states_binding(frame, task_token=token)
            effective = self.ja(frame, state.arguments, "Arguments", states) if is_set(
                state.arguments) else frame.state_input
            timeout = self.ja_seconds(frame, state.timeout_seconds, "TimeoutSeconds", states)
            heartbeat = self.ja_seconds(frame, state.heartbeat_seconds, "HeartbeatSeconds", states)
            credentials = self.ja(frame, state.credentials, "Credentials", states) if is_set(
                state.credentials) else None
        else:
            effective = self.input_path(frame, state)
            if is_set(state.parameters):
                effective = self.template(frame, state.parameters, effective, "Parameters", task_token=token)
            timeout = self.seconds_field(frame, state.timeout_seconds, state.timeout_seconds_path,
                                         "TimeoutSecondsPath")
            heartbeat = self.seconds_field(frame, state.heartbeat_seconds, state.heartbeat_seconds_path,
                                           "HeartbeatSecondsPath")
            credentials = None
            if is_set(state.credentials) and isinstance(state.credentials, dict):
                credentials = self.template(frame, state.credentials, frame.state_input, "Credentials")
        task_id = self.next_id("k")
        frame.waiting = "task"
        frame.task_id = task_id
        frame.task_resource = ref
        frame.task_submitted = False
        self.snap.tasks[task_id] = frame.id
        family = history.task_family(ref)
        region = self.region if ref.kind == "service" else ""  # only service integrations record it
        self.emit(frame, f"{family}Scheduled", history.task_scheduled_details(
            ref, self.text(effective), timeout, heartbeat, credentials, region))
        self.commands.append(ScheduleTask(
            task_id=task_id, frame_id=frame.id, state_name=state.name, resource=state.resource,
            kind=ref.kind, resource_type=ref.resource_type, service_resource=ref.resource,
            input=effective, attempt=frame.retry_count, timeout_seconds=timeout, heartbeat_seconds=heartbeat,
            task_token=token, credentials=credentials,
            run_key="/".join(filter(None, (frame_path(frame), str(frame.step), state.name, str(frame.retry_count)))),
        ))

    def seconds_field(self, frame: Frame, value: Any, path: str | None, field_name: str) -> int | None:
        if is_set(value) and value is not None:
            return int(value)
        if path:
            try:
                resolved = paths.evaluate_path(path, frame.state_input, self.context(frame), frame.variables)
            except paths.PathNotFound:
                raise FailureError(ErrorName.RUNTIME.value,
                                   f"The {field_name} parameter does not reference an input value: {path}") from None
            if isinstance(resolved, bool) or not isinstance(resolved, int) or not 0 < resolved <= MAX_SECONDS:
                raise FailureError(ErrorName.RUNTIME.value, f"The {field_name} parameter references an invalid "
                                   f"value: {path} == {jsontext.dumps(resolved)}")
            return resolved
        return None

    def on_task_succeeded(self, frame: Frame, output: Any) -> None:
        state = self.current(frame)
        ref = frame.task_resource
        assert ref is not None
        family = history.task_family(ref)
        output_text = self.result_text(frame, output)
        if isinstance(output_text, Failure):
            self.on_task_failed(frame, output_text, "Failed")
            return
        self.emit(frame, f"{family}Succeeded", history.task_result_details(ref, output_text))
        self.guarded(frame, lambda: self.finish_result(frame, state, output))

    def result_text(self, frame: Frame, output: Any) -> str | Failure:
        """The JSON text of what a task's service answered (its result, or what it answered as it took a
        token task: TaskSubmitted), or the failure of a task whose answer is nested too deep
        (`States.Runtime`) or over the payload limit (`States.DataLimitExceeded`) to be recorded."""
        ref = frame.task_resource
        assert ref is not None
        try:
            output_text = self.text(output)
        except FailureError as error:
            return self.with_location(frame, error.failure)
        if self.too_large(output_text):
            label = ref.arn if ref.kind != "service" else ref.resource_type
            return Failure(ErrorName.DATA_LIMIT_EXCEEDED.value, limit_cause(label))
        return output_text

    def on_task_failed(self, frame: Frame, failure: Failure, how: str) -> None:
        ref = frame.task_resource
        assert ref is not None
        family = history.task_family(ref)
        self.emit(frame, f"{family}{how}", history.task_failure_details(ref, failure))
        self.state_failed(frame, failure)

    # ---- failure handling ------------------------------------------------------------------

    def state_failed(self, frame: Frame, failure: Failure) -> None:
        """Retry, then Catch, then fail the frame: AWS's order of error handling."""
        self.settle_input(frame)
        state = self.current(frame)
        index = self.retrier_for(frame, state, failure)
        if index is not None:
            retrier = state.retry[index]
            attempts = frame.retry_attempts.get(index, 0)
            frame.retry_attempts[index] = attempts + 1
            frame.retry_count += 1
            frame.step += 1  # a retried Map or Parallel runs its children again under new paths
            self.drop_kept(frame.failed_join)  # and all of them, from their start: none is redriven
            delay = retry_delay_ms(retrier.interval_seconds, retrier.backoff_rate, attempts,
                                   retrier.max_delay_seconds, retrier.jitter_strategy, self.env.random())
            timer_id = self.next_id("t")
            frame.waiting = "retry"
            frame.timer_id = timer_id
            self.snap.timers[timer_id] = frame.id
            self.commands.append(StartTimer(timer_id, clamp_ms(self.now + delay), "retry"))
            return
        for catcher in state.catch:
            if not error_matches(catcher.error_equals, failure.error):
                continue
            error_output: dict[str, Any] = {"Error": failure.error, "Cause": failure.cause} \
                if failure.cause is not None else {"Error": failure.error}
            if not failure.error:  # a SendTaskFailure without an error: AWS catches both as null
                error_output = {"Error": None, "Cause": failure.cause}
            self.guarded_catch(frame, state, catcher, error_output)
            return
        self.frame_failed(frame, failure)

    def retrier_for(self, frame: Frame, state: State, failure: Failure) -> int | None:
        """The retrier that will retry `failure`, if any: the first matching one decides, and an
        exhausted one sends the error on to Catch rather than to a later retrier."""
        for index, retrier in enumerate(state.retry):
            if error_matches(retrier.error_equals, failure.error):
                return index if frame.retry_attempts.get(index, 0) < retrier.max_attempts else None
        return None

    def guarded_catch(self, frame: Frame, state: State, catcher: Any, error_output: dict[str, Any]) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            try:
                states = self.states_binding(frame, errorOutput=error_output)
                assigned = self.ja_assign(frame, catcher.assign, states)
                output = self.ja(frame, catcher.output, "Output", states) if is_set(catcher.output) else error_output
            except FailureError as error:
                failure = self.with_location(frame, error.failure)
                self.evaluation_failed(frame, failure, error.location)
                self.frame_failed(frame, failure)
                return
            self.exit_state(frame, state, output, catcher.next, assigned=assigned)
            return
        try:
            assigned = self.assign(frame, catcher.assign, error_output)
            result_path = catcher.result_path if is_set(catcher.result_path) else "$"
            output = apply_result_path(result_path, frame.state_input, error_output)
        except FailureError as failure:
            self.frame_failed(frame, self.with_location(frame, failure.failure))
            return
        self.exit_state(frame, state, output, catcher.next, assigned=assigned)

    # ---- frames ending ---------------------------------------------------------------------

    def frame_succeeded(self, frame: Frame, output: Any) -> None:
        frame.done = True
        if frame.parent is None:
            text = self.text(output)
            self.finish_execution("SUCCEEDED", text, None, None, "ExecutionSucceeded",
                                  {"output": text, "outputDetails": {"truncated": False}})
            return
        parent = self.snap.frames[frame.parent]
        self.child_done(parent, frame, output, None)

    def frame_failed(self, frame: Frame, failure: Failure, via_fail_state: bool = False) -> None:
        frame.done = True
        if frame.parent is None:
            details = {k: v for k, v in (("error", failure.error), ("cause", failure.cause)) if v}
            self.finish_execution("FAILED", None, failure.error or None, failure.cause, "ExecutionFailed",
                                  details)
            return
        parent = self.snap.frames[frame.parent]
        state = self.current(frame)
        if parent.join is not None and parent.join.kind == "parallel" and state.type is StateType.TASK:
            # A Parallel branch that fails in a Task records the Task state as aborted.
            self.emit(frame, "TaskStateAborted")
        self.child_done(parent, frame, None, failure)

    def history_limit_reached(self) -> None:
        """The execution reached its last history event while still running: it fails with AWS's
        `States.Runtime`. What this step had scheduled never reaches the world (its events stay in the
        history, as AWS keeps the events before its cut); what earlier steps started is cancelled."""
        scheduled = {c.task_id for c in self.commands if isinstance(c, ScheduleTask)}
        started = {c.timer_id for c in self.commands if isinstance(c, StartTimer)}
        self.commands = [c for c in self.commands if not isinstance(c, ScheduleTask | StartTimer)]
        for task_id in scheduled:
            self.snap.tasks.pop(task_id, None)
        for timer_id in started:
            self.snap.timers.pop(timer_id, None)
        self.history_limit = None  # the closing event itself is the last one
        error = ErrorName.RUNTIME.value
        self.finish_execution("FAILED", None, error, HISTORY_LIMIT_CAUSE, "ExecutionFailed",
                              {"error": error, "cause": HISTORY_LIMIT_CAUSE}, prev=self.last_event_id)

    def finish_execution(self, status: str, output: str | None, error: str | None, cause: str | None,
                         event_type: str, details: dict[str, Any], *, prev: int | None = None) -> None:
        root = self.snap.frames[ROOT]
        # A stop arrives from outside the execution: AWS chains ExecutionAborted to no event (0). A
        # timeout arrives from outside the frames: it follows the latest event of all (no recording
        # of AWS's ExecutionTimedOut chaining to hand, so it stays as it was).
        if status == "ABORTED":
            prev = 0
        elif status == "TIMED_OUT":
            prev = self.last_event_id
        self.emit(root, event_type, details, prev=prev)
        self.snap.status = status
        self.snap.output, self.snap.error, self.snap.cause = output, error, cause
        if root.join is not None and (root.join.distributed or self.keeps(root.join)):
            # Stopped (or timed out) while its Map or Parallel ran: its children are cut short where they
            # were (a Map Run cancels its child executions), and a redrive continues them from there.
            self.stop_children(root.join)
        for task_id in list(self.snap.tasks):
            self.commands.append(CancelTask(task_id))
        for timer_id in list(self.snap.timers):
            self.commands.append(CancelTimer(timer_id))
        self.snap.tasks.clear()
        self.snap.timers.clear()
        self.commands.append(CompleteExecution(status, output, error, cause))
        self.queue.clear()
