"""What goes into the core (events from the world) and what comes out (commands for the shell)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from stateway.asl.child_names import child_execution_arn, child_execution_name


class Env(Protocol):
    """Everything non-deterministic the core may use; the shell provides (and can record) it."""

    @property
    def now_ms(self) -> int: ...

    def uuid4(self) -> str: ...

    def random(self) -> float: ...

    def random_int(self, low: int, high: int) -> int: ...


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Identity of one execution, fixed when it starts; feeds the context object `$$.Execution`."""

    execution_arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    input_text: str
    start_time_ms: int
    redrive_count: int = 0


# ---- events into the core -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutionStarted:
    execution: ExecutionInfo


@dataclass(frozen=True, slots=True)
class TaskStarted:
    task_id: str
    worker_name: str | None = None


@dataclass(frozen=True, slots=True)
class TaskSubmitted:
    """A `.waitForTaskToken`/`.sync` task was handed to its service; the answer comes later."""

    task_id: str
    output: Any = None


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    task_id: str
    output: Any


@dataclass(frozen=True, slots=True)
class TaskFailed:
    task_id: str
    error: str | None
    cause: str | None


@dataclass(frozen=True, slots=True)
class ItemsRead:
    """A distributed Map's ItemReader was read (the `ScheduleTask` of kind `READ_ITEMS` it waited for):
    how many items, and the items as JSON text — arrays of up to `frames.ITEMS_PER_RUN` consecutive
    items by the index of the first, each at a multiple of it — so that they are parsed a run at a
    time as the children start, never all at once. A read that failed answers with `TaskFailed`.
    A shell that stores a join's data apart may have stored the runs itself, as it read them, under
    `join_id` (the one the command asked for): `runs` then holds only the first ones, at least the
    command's `KeepItems` items, and `store` (a `frames.JoinStore` of that join) reads the others back
    as the children start."""

    task_id: str
    size: int
    runs: dict[int, str]
    join_id: str = ""
    store: Any = None


@dataclass(frozen=True, slots=True)
class TaskTimedOut:
    task_id: str
    error: str = "States.Timeout"
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: str


@dataclass(frozen=True, slots=True)
class RedriveRequested:
    """Re-run a FAILED, ABORTED or TIMED_OUT execution from the state where it stopped. `redrive_ms` is
    when RedriveExecution accepted it, its redriveDate: the time of ExecutionRedriven (None: the step's)."""

    redrive_ms: int | None = None


@dataclass(frozen=True, slots=True)
class StopRequested:
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class MapRunUpdated:
    """UpdateMapRun changed a running distributed Map's settings: the join whose `map_run_arn` this is
    takes them from now on (None leaves a setting as it is). A larger MaxConcurrency starts more
    children at once; a smaller one stops none; a smaller tolerance fails the Map Run at once if the
    failures so far exceed it."""

    map_run_arn: str
    max_concurrency: int | None = None
    tolerated_percentage: float | None = None
    tolerated_count: int | None = None


@dataclass(frozen=True, slots=True)
class StateMachineDeleted:
    """The execution's state machine is being deleted (DeleteStateMachine): the shell hands this over
    instead of the event that would make the next state transition, which AWS does not make."""


# ---- commands out of the core ---------------------------------------------------------------


# `ScheduleTask.kind` of a distributed Map's ItemReader: the shell reads the items (`ItemsRead`).
READ_ITEMS = "items"
# `ScheduleTask.kind` of a distributed Map's ResultWriter: the shell writes its Map Run's results.
WRITE_RESULTS = "results"


@dataclass(frozen=True, slots=True)
class ScheduleTask:
    """Run a Task state's work: a Lambda-style function, a service integration or an activity; or a
    distributed Map's ItemReader or ResultWriter (kind `READ_ITEMS`, `WRITE_RESULTS`), which records no
    task events: `input` is then `{"Parameters": …, "ReaderConfig": …}` or `{"Parameters": …,
    "WriterConfig": …, "MapRunArn": …}`."""

    task_id: str
    frame_id: str
    state_name: str
    resource: str  # the full Resource ARN as written in the definition
    kind: str  # "lambda" | "service" | "activity" | READ_ITEMS | WRITE_RESULTS
    resource_type: str  # e.g. "lambda", "aws-sdk:dynamodb", "states"
    service_resource: str  # e.g. "invoke", "putItem", "startExecution.sync"
    input: Any
    attempt: int
    timeout_seconds: int | None = None
    heartbeat_seconds: int | None = None
    task_token: str | None = None  # set for `.waitForTaskToken`
    credentials: Any = None
    # The task's run within its execution, `[path/]step/state/attempt` (see `Frame.path`): the same for
    # the same run however a crash reordered the rounds. Empty for a task stored before it existed.
    run_key: str = ""


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Wake the core with TimerFired at `due_ms` (Wait states, retry back-off, execution timeout)."""

    timer_id: str
    due_ms: int
    purpose: str  # "wait" | "retry" | "execution_timeout"


@dataclass(frozen=True, slots=True)
class CancelTask:
    task_id: str


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True, slots=True)
class CompleteExecution:
    """The execution reached its end; status is AWS's: SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""

    status: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class MapRunEnded:
    """A distributed Map's Map Run ended: succeeded or failed (its MapRunSucceeded/MapRunFailed is in
    the same step) or ABORTED, cut short by the failure of a Parallel branch or Map iteration around it.
    Its child executions are not in this history, so this is how the shell learns what they did: how
    many items succeeded and failed (the rest did not finish), and with an ItemBatcher how many child
    executions it had, each of a batch of items, and how many of them succeeded and failed (None
    without one: an item each). Its settings come along, for a Map Run that ends in the step that
    starts it."""

    started_event_id: int  # its MapRunStarted
    status: str  # "SUCCEEDED" | "FAILED" | "ABORTED"
    items: tuple[int, int]  # (succeeded, failed)
    executions: tuple[int, int, int] | None  # (total, succeeded, failed)
    max_concurrency: int
    tolerated_failure_percentage: float
    tolerated_failure_count: int
    # (items, child executions) among the failed that a redrive found not redrivable: failed for good.
    not_redrivable: tuple[int, int] = (0, 0)
    # How many items the Map Run has: set when an ItemReader read them (MapStateStarted said 0), else None.
    total_items: int | None = None
    # How many child executions' results a ResultWriter wrote (DescribeMapRun's `resultsWritten`).
    results_written: int = 0


class ChildExecutionChanged(NamedTuple):
    """A distributed Map's child execution started, was redriven, waits to be redriven, or ended. Its
    events are not in this history, so this is how the shell keeps the row that ListExecutions (of the
    Map Run) and DescribeExecution (of the child) answer: `status` is RUNNING as it starts (`redriven`:
    again, after a redrive of its Map Run), PENDING_REDRIVE while a redriven Map Run has yet to run it
    again, or how it ended (SUCCEEDED, FAILED, ABORTED), at `at_ms`. Only for a Map Run recorded in
    this history (not one inside another child execution). A tuple, not a frozen dataclass: a Map of
    10,000 items makes 20,000 of them, and a tuple is built several times faster."""

    map_run_arn: str
    index: int  # type: ignore[assignment]  # of its item (or batch) in the Map Run (shadows tuple.index)
    status: str
    at_ms: int
    attempt: int = 0  # the Map Run's redrive that started it, for an EXPRESS child (a STANDARD one: 0)
    express: bool = False
    input: str | None = None  # as it starts: its input as JSON text
    item_count: int = 1  # its items: a batch's, with an ItemBatcher
    output: str | None = None  # SUCCEEDED: its output as JSON text
    error: str | None = None  # FAILED
    cause: str | None = None
    redriven: bool = False

    @property
    def name(self) -> str:
        return child_execution_name(self.map_run_arn, self.index, self.attempt)

    @property
    def execution_arn(self) -> str:
        """The child's ARN: made from its Map Run, attempt and index (`child_names`), so not carried."""
        return child_execution_arn(self.map_run_arn, self.name, self.express)


@dataclass(frozen=True, slots=True)
class Resumed:
    """Go on with the states a step left to run when it paused (`Step.paused`); any event does that too."""


Command = (ScheduleTask | StartTimer | CancelTask | CancelTimer | CompleteExecution | MapRunEnded
           | ChildExecutionChanged)
Event = (
    ExecutionStarted | TaskStarted | TaskSubmitted | TaskSucceeded | TaskFailed | TaskTimedOut | ItemsRead
    | TimerFired | StopRequested | RedriveRequested | MapRunUpdated | StateMachineDeleted | Resumed
)


@dataclass(slots=True)
class Step:
    """The result of one `advance`: the new snapshot, the history events it added, its commands."""

    snapshot: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    # The events it added to the histories of the STANDARD child executions of this execution's Map Runs, by
    # child — (its Map Run's ARN, the index of its item), which make its ARN (`child_names`) — each numbered
    # within its child's history (which the shell stores beside this one) and already in the form the shell
    # stores events in, `[id, previous id, type, timestamp, details]` (`history.event_of_row` makes one the
    # dict `events` holds): a Map of 10,000 items makes ~70,000 of them.
    child_events: dict[tuple[str, int], list[list[Any]]] = field(default_factory=dict)
    # The step stopped after its event budget with states still to run: the shell advances the
    # execution again (with `Resumed`, or a due timer first) before waiting for the world.
    paused: bool = False
