"""Typed, immutable values for a parsed state machine: states, retriers, catchers and programs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class QueryLanguage(StrEnum):
    JSONPATH = "JSONPath"
    JSONATA = "JSONata"


class StateType(StrEnum):
    TASK = "Task"
    PASS = "Pass"
    CHOICE = "Choice"
    WAIT = "Wait"
    SUCCEED = "Succeed"
    FAIL = "Fail"
    PARALLEL = "Parallel"
    MAP = "Map"


_UNSET: Any = object()


def is_set(value: Any) -> bool:
    """True when an optional definition field was present (a field may legitimately be JSON null)."""
    return value is not _UNSET


UNSET = _UNSET


@dataclass(frozen=True, slots=True)
class Retrier:
    """One entry of a state's `Retry` array."""

    error_equals: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter_strategy: str = "NONE"
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Catcher:
    """One entry of a state's `Catch` array."""

    error_equals: tuple[str, ...]
    next: str
    result_path: Any = UNSET  # a reference path, None (discard), or UNSET (default "$")
    assign: Any = UNSET
    output: Any = UNSET  # JSONata


@dataclass(frozen=True, slots=True)
class State:
    """One state of a program; `raw` keeps the whole definition object for fields read rarely."""

    name: str
    type: StateType
    raw: dict[str, Any]
    query_language: QueryLanguage
    next: str | None = None
    end: bool = False
    comment: str | None = None
    input_path: Any = UNSET
    output_path: Any = UNSET
    result_path: Any = UNSET
    parameters: Any = UNSET
    result_selector: Any = UNSET
    result: Any = UNSET
    assign: Any = UNSET
    arguments: Any = UNSET  # JSONata
    output: Any = UNSET  # JSONata
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    # Task
    resource: str | None = None
    timeout_seconds: Any = UNSET
    timeout_seconds_path: str | None = None
    heartbeat_seconds: Any = UNSET
    heartbeat_seconds_path: str | None = None
    credentials: Any = UNSET
    # Choice
    choices: tuple[Any, ...] = ()
    default: str | None = None
    # Wait
    seconds: Any = UNSET
    seconds_path: str | None = None
    timestamp: Any = UNSET
    timestamp_path: str | None = None
    # Fail
    error: Any = UNSET
    error_path: str | None = None
    cause: Any = UNSET
    cause_path: str | None = None
    # Parallel
    branches: tuple[Program, ...] = ()
    # Map
    processor: Program | None = None
    items_path: Any = UNSET
    items: Any = UNSET  # JSONata
    item_selector: Any = UNSET  # ItemSelector, or the legacy Map `Parameters`
    max_concurrency: Any = UNSET
    max_concurrency_path: str | None = None
    tolerated_failure_percentage: Any = UNSET
    tolerated_failure_percentage_path: str | None = None
    tolerated_failure_count: Any = UNSET
    tolerated_failure_count_path: str | None = None
    item_reader: Any = UNSET
    item_batcher: Any = UNSET
    result_writer: Any = UNSET
    label: str | None = None
    processor_mode: str = "INLINE"
    # A distributed Map's child executions: STANDARD (when not given) or EXPRESS; decides how a redrive
    # of its Map Run runs the ones that did not succeed.
    processor_execution_type: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class Program:
    """A `StartAt` + `States` pair: the top level, one Parallel branch, or a Map's item processor."""

    start_at: str
    states: dict[str, State]
    query_language: QueryLanguage
    path: str  # where it sits in the definition, e.g. "/States/Fan/Branches/0"
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A whole parsed definition; `programs` indexes every nested program by its path."""

    program: Program
    raw: dict[str, Any]
    timeout_seconds: int | None = None
    version: str | None = None
    programs: dict[str, Program] = field(default_factory=dict)
    # Whether any field may read `$$.Execution.Input` (see `parse.reads_execution_input`); when none can,
    # the interpreter does not parse the execution input for the context object.
    reads_execution_input: bool = True

    @property
    def query_language(self) -> QueryLanguage:
        return self.program.query_language

    def lasting_at_most(self, seconds: int) -> StateMachine:
        """This machine with its executions timed out after `seconds` at most (a service's maximum
        duration), as a `TimeoutSeconds` of that length would; a shorter one of its own still counts."""
        if self.timeout_seconds and self.timeout_seconds <= seconds:
            return self
        return replace(self, timeout_seconds=seconds)
