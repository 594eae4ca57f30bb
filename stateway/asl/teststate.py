"""TestState: run one state in isolation, as the Step Functions TestState API does, with the interpreter's own code.

The state runs in a throw-away one-frame execution driven through the interpreter's `_Run`; a small
subclass records what the TestState API reports (`inspectionData`: the data after InputPath,
Parameters, ResultSelector and ResultPath, the task result, variables, Retry/Catch decisions) and
stops at the state's exit instead of entering the next state. A Task's result comes from the mock,
or from the shell's `perform` callback; Map and Parallel states run only with a mocked result.
Everything here is pure: the shell passes the clock, UUIDs and the task runner in.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import DefinitionError, ErrorName, Failure, FailureError, Problem, StatewayError
from stateway.asl.events import Env, Event, ExecutionInfo, ScheduleTask, TaskFailed, TaskSucceeded
from stateway.asl.interpreter import ROOT, Frame, Snapshot, _Run
from stateway.asl.model import UNSET, Program, QueryLanguage, State, StateMachine, StateType, is_set
from stateway.asl.parse import parse_machine
from stateway.asl.retry import error_matches, retry_delay_ms

INFO = "INFO"
DEBUG = "DEBUG"
TRACE = "TRACE"
INSPECTION_LEVELS = (INFO, DEBUG, TRACE)

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
RETRIABLE = "RETRIABLE"
CAUGHT_ERROR = "CAUGHT_ERROR"

# AWS wraps a lone state into a machine under this name; it shows in locations and in $$.State.Name.
STATE_NAME = "StateName"
UNSUPPORTED_WITHOUT_MOCK = ("TestState API does not support Map or Parallel states. Supported state types "
                            "include: [Task, Wait, Pass, Succeed, Fail, Choice]")
UNMOCKABLE = (StateType.PASS, StateType.SUCCEED, StateType.FAIL, StateType.CHOICE, StateType.WAIT)


class TestStateError(StatewayError):
    """A request TestState refuses: `code` is AWS's error type (ValidationException, InvalidDefinition)."""

    __test__ = False  # not a pytest class

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _validation(message: str) -> TestStateError:
    return TestStateError("ValidationException", message)


def _invalid_definition(message: str) -> TestStateError:
    return TestStateError("InvalidDefinition", message)


@dataclass(frozen=True, slots=True)
class Mock:
    """`mock`: a result (JSON text) or an errorOutput, and how strictly to check the result's fields."""

    result: str | None = None
    error: str | None = None
    cause: str | None = None
    has_error_output: bool = False
    field_validation_mode: str = "STRICT"


@dataclass(frozen=True, slots=True)
class StateConfiguration:
    """`stateConfiguration`: where in its life the state is assumed to be."""

    retrier_retry_count: int | None = None
    error_caused_by_state: str | None = None
    map_iteration_failure_count: int | None = None
    map_item_reader_data: str | None = None


@dataclass(frozen=True, slots=True)
class TestStateRequest:
    """One TestState call, with its JSON fields already parsed."""

    __test__ = False

    definition: dict[str, Any]
    input: Any = field(default_factory=dict)
    state_name: str | None = None
    inspection_level: str = INFO
    role_arn: str | None = None
    variables: dict[str, Any] | None = None
    context: Any = UNSET
    mock: Mock | None = None
    config: StateConfiguration | None = None


@dataclass(slots=True)
class TestStateResult:
    """The answer: status, output or error/cause, the next state, and the inspection data."""

    __test__ = False

    status: str
    output: Any = UNSET
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection: dict[str, Any] = field(default_factory=dict)

    def response(self, inspection_level: str) -> dict[str, Any]:
        """The response fields as the API returns them (JSON values travel as JSON text)."""
        out: dict[str, Any] = {"status": self.status}
        if is_set(self.output):
            out["output"] = jsontext.dumps(self.output)
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        if self.next_state is not None:
            out["nextState"] = self.next_state
        if inspection_level != INFO and self.inspection:
            out["inspectionData"] = self.inspection
        return out


# The shell runs an unmocked task: given the ScheduleTask command, it answers with core events.
Perform = Callable[[ScheduleTask], Iterable[Event]]


# ---- the request's checks -----------------------------------------------------------------------


def select_state(request: TestStateRequest) -> tuple[StateMachine, Program, State]:
    """The machine to run in and the state under test; definition problems raise InvalidDefinition."""
    from stateway.asl.validate import check_definition, validate_state

    definition = request.definition
    if request.state_name is not None:
        try:
            check_definition(definition)
        except DefinitionError as exc:
            raise _invalid_definition(exc.message) from None
        machine = parse_machine(definition, validate=False)
        for program in machine.programs.values():
            if request.state_name in program.states:
                return machine, program, program.states[request.state_name]
        raise _validation(f"State '{request.state_name}' does not exist in the state machine definition.")
    if not isinstance(definition, dict):
        raise _invalid_definition("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                                  "State definition must be an object at /States/StateName'")
    problems: list[Problem] = validate_state(definition)
    if problems:
        raise _invalid_definition(DefinitionError(problems).message)
    # The next state need not exist: the machine is never walked past this state.
    machine = parse_machine({"StartAt": STATE_NAME, "States": {STATE_NAME: definition}}, validate=False)
    return machine, machine.program, machine.program.states[STATE_NAME]


def mocked_result(request: TestStateRequest, state: State) -> Any:
    """Check the mock against the state (AWS's ValidationException texts); the parsed result or UNSET."""
    mock, config = request.mock, request.config
    if mock is None:
        if config is not None and config.map_iteration_failure_count is not None:
            raise _validation("TestState does not support MapIterationFailureCount when a mock is not specified.")
        if state.type in (StateType.MAP, StateType.PARALLEL):
            raise _invalid_definition(UNSUPPORTED_WITHOUT_MOCK)
        return UNSET
    if mock.result is not None and mock.has_error_output:
        raise _validation("A test mock should have only one of the following fields: [result, errorOutput].")
    if state.type in UNMOCKABLE:
        raise _validation(f"State type '{state.type.value}' is not supported when a mock is specified")
    if mock.result is None:
        return UNSET
    try:
        result = json.loads(mock.result)
    except ValueError:
        raise _validation("Mocked result must be valid JSON") from None
    if state.type is StateType.PARALLEL and (not isinstance(result, list) or len(result) != len(state.branches)):
        raise _validation("Mocked result must contain the same number of items as number of Parallel branches.")
    if state.type is StateType.MAP:
        if is_set(state.result_writer) and state.result_writer is not None:
            if not isinstance(result, dict):
                raise _validation("Mocked result must be a JSON object.")
        elif not isinstance(result, list):
            raise _validation("Mocked result must be an array.")
        failures = config.map_iteration_failure_count if config is not None else None
        if isinstance(result, list) and failures is not None and failures > len(result):
            raise _validation("Map iteration failure count must be less than or equal to the number of "
                              "Map iterations")
    return result


# ---- running ------------------------------------------------------------------------------------


def run_test_state(request: TestStateRequest, execution: ExecutionInfo, env: Env,
               perform: Perform | None = None) -> TestStateResult:
    """Run the request's state once and report what happened, as TestState does."""
    machine, program, state = select_state(request)
    result = mocked_result(request, state)
    snapshot = Snapshot(execution=execution, input=request.input)
    run = _TestRun(machine, snapshot, env, request, result)
    frame = Frame(id=ROOT, program=program.path, state=state.name, state_input=request.input,
                  entered_time_ms=env.now_ms, variables=dict(request.variables or {}))
    if request.config is not None and request.config.retrier_retry_count:
        frame.retry_count = request.config.retrier_retry_count
    snapshot.frames[ROOT] = frame
    run.execute(frame)
    if run.outcome is None and frame.waiting == "timer":
        frame.waiting = frame.timer_id = None  # TestState does not wait out a Wait state
        run.guarded(frame, lambda: run.leave_wait(frame, state))
    if run.outcome is None and frame.waiting == "task":
        run.answer_task(frame, perform)
    outcome = run.outcome or TestStateResult(FAILED, error=ErrorName.RUNTIME.value,
                                             cause="The state did not finish.")
    outcome.inspection = run.inspection(state, outcome)
    return outcome


class _TestRun(_Run):
    """The interpreter's `_Run`, recording each step's data and stopping where the state ends."""

    def __init__(self, machine: StateMachine, snapshot: Snapshot, env: Env, request: TestStateRequest,
                 mock_result: Any) -> None:
        super().__init__(machine, snapshot, env)
        self.request = request
        self.mock_result = mock_result
        self.outcome: TestStateResult | None = None
        self.seen: dict[str, Any] = {}
        self.error_details: dict[str, Any] = {}
        self.assigned: dict[str, Any] = {}

    # ---- the context object: AWS's TestState wraps the state in a machine of its own -------------

    def context(self, frame: Frame, state: State | None = None, *, item: tuple[int, Any] | None = None,
                task_token: str | None = None) -> dict[str, Any]:
        if is_set(self.request.context):
            return copy.deepcopy(self.request.context)  # type: ignore[no-any-return]
        ctx = super().context(frame, state, item=item, task_token=task_token)
        ctx["Execution"].pop("RedriveCount", None)
        ctx["Execution"]["RoleArn"] = self.request.role_arn
        ctx["State"]["Name"] = STATE_NAME
        if self.current(frame).type in (StateType.TASK, StateType.MAP, StateType.PARALLEL):
            ctx["State"]["RetryCount"] = frame.retry_count
        return ctx

    # ---- recording the data flow -----------------------------------------------------------------

    def input_path(self, frame: Frame, state: State) -> Any:
        value = super().input_path(frame, state)
        self.seen.setdefault("afterInputPath", value)
        return value

    def template(self, frame: Frame, template: Any, data: Any, field_name: str, **ctx: Any) -> Any:
        value = super().template(frame, template, data, field_name, **ctx)
        if field_name in ("Parameters", "ResultSelector"):
            self.seen[f"after{field_name}"] = value
        return value

    def ja(self, frame: Frame, template: Any, field_name: str, states: dict[str, Any]) -> Any:
        value = super().ja(frame, template, field_name, states)
        if field_name == "Arguments":
            self.seen["afterArguments"] = value
        return value

    def output_path(self, frame: Frame, state: State, data: Any) -> Any:
        self.seen["beforeOutputPath"] = data
        return super().output_path(frame, state, data)

    def finish_result(self, frame: Frame, state: State, result: Any) -> None:
        self.seen["result"] = result
        super().finish_result(frame, state, result)

    def reads_items(self, state: State) -> bool:
        return False  # TestState reads no object store: its items come from `mapItemReaderData`

    def map_items(self, frame: Frame, state: State) -> tuple[Any, list[Any]]:
        config = self.request.config
        if is_set(state.item_reader) and state.item_reader is not None and config is not None \
                and config.map_item_reader_data is not None:
            try:
                items = json.loads(config.map_item_reader_data)
            except ValueError:
                raise _validation("Map item reader data must be valid JSON") from None
            return frame.state_input, items if isinstance(items, list) else [items]
        effective, items = super().map_items(frame, state)
        if state.query_language is QueryLanguage.JSONPATH:
            self.seen["afterItemsPath"] = items
        return effective, items

    def with_location(self, frame: Frame, failure: Failure) -> Failure:
        return failure  # TestState reports a runtime error's cause without the execution's event location

    # ---- where the state ends --------------------------------------------------------------------

    def exit_state(self, frame: Frame, state: State, output: Any, next_name: str | None = None,
                   assigned: dict[str, Any] | None = None) -> None:
        if self.outcome is not None and self.outcome.status != CAUGHT_ERROR:
            return
        if assigned:
            self.assigned.update(assigned)
        target = next_name if next_name is not None else state.next
        if state.end and next_name is None:
            target = None
        caught = self.outcome
        self.outcome = TestStateResult(
            CAUGHT_ERROR if caught is not None else SUCCEEDED, output=output, next_state=target,
            error=caught.error if caught is not None else None, cause=caught.cause if caught is not None else None)
        frame.done = True

    def frame_failed(self, frame: Frame, failure: Failure, via_fail_state: bool = False) -> None:
        frame.done = True
        self.outcome = TestStateResult(FAILED, error=failure.error or None, cause=failure.cause)

    def state_failed(self, frame: Frame, failure: Failure) -> None:
        """Retry (with the configured retry count), then Catch, then fail — reported, not waited for."""
        state = self.current(frame)
        for index, retrier in enumerate(state.retry):
            if not error_matches(retrier.error_equals, failure.error):
                continue
            self.error_details["retryIndex"] = index
            attempts = frame.retry_count
            if attempts < retrier.max_attempts:
                delay = retry_delay_ms(retrier.interval_seconds, retrier.backoff_rate, attempts,
                                       retrier.max_delay_seconds, retrier.jitter_strategy, self.env.random())
                self.error_details["retryBackoffIntervalSeconds"] = delay // 1000
                self.outcome = TestStateResult(RETRIABLE, error=failure.error or None, cause=failure.cause)
                frame.done = True
                return
            break
        for index, catcher in enumerate(state.catch):
            if not error_matches(catcher.error_equals, failure.error):
                continue
            self.error_details["catchIndex"] = index
            self.outcome = TestStateResult(CAUGHT_ERROR, error=failure.error or None, cause=failure.cause)
            error_output = {"Error": failure.error, "Cause": failure.cause} if failure.cause is not None else {
                "Error": failure.error}
            self.guarded_catch(frame, state, catcher, error_output)
            return
        self.frame_failed(frame, failure)

    # ---- Task, Map and Parallel --------------------------------------------------------------------

    def answer_task(self, frame: Frame, perform: Perform | None) -> None:
        """Give the scheduled task its mocked outcome, or the shell's answer."""
        task_id = frame.task_id
        assert task_id is not None
        mock = self.request.mock
        events: Iterable[Event]
        if mock is not None and mock.has_error_output:
            events = [TaskFailed(task_id, mock.error, mock.cause)]
        elif is_set(self.mock_result):
            events = [TaskSucceeded(task_id, self.mock_result)]
        elif perform is not None:
            command = next(c for c in self.commands if isinstance(c, ScheduleTask) and c.task_id == task_id)
            events = perform(command)
        else:
            events = [TaskFailed(task_id, ErrorName.RUNTIME.value,
                                 f"No task handler is configured for the resource '{self.current(frame).resource}'.")]
        for event in events:
            if self.outcome is None:
                self.handle(event)

    def mocked_children(self, frame: Frame, state: State) -> None:
        mock = self.request.mock
        if mock is not None and mock.has_error_output:
            raise FailureError(mock.error or "", mock.cause)
        self.finish_result(frame, state, self.mock_result)

    def run_parallel(self, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            if is_set(state.arguments):
                self.ja(frame, state.arguments, "Arguments", self.states_binding(frame))
        else:
            effective = self.input_path(frame, state)
            if is_set(state.parameters):
                self.template(frame, state.parameters, effective, "Parameters")
        self.mocked_children(frame, state)

    def run_map(self, frame: Frame, state: State) -> None:
        effective, _items = self.map_items(frame, state)
        self.seen["maxConcurrency"] = self.integer_field(
            frame, state.max_concurrency, state.max_concurrency_path, "MaxConcurrencyPath", effective) or 0
        count = self.integer_field(frame, state.tolerated_failure_count, state.tolerated_failure_count_path,
                                   "ToleratedFailureCountPath", effective)
        percentage = self.float_field(frame, state.tolerated_failure_percentage,
                                      state.tolerated_failure_percentage_path, "ToleratedFailurePercentagePath",
                                      effective)
        if count is not None:
            self.seen["toleratedFailureCount"] = count
        if percentage is not None:
            self.seen["toleratedFailurePercentage"] = percentage
        self.mocked_children(frame, state)

    # ---- the report --------------------------------------------------------------------------------

    def inspection(self, state: State, outcome: TestStateResult) -> dict[str, Any]:
        """`inspectionData`, with the fields AWS shows for this state type and query language."""
        seen = self.seen
        data: dict[str, Any] = {"input": self.request.input}
        jsonpath = state.query_language is QueryLanguage.JSONPATH
        kind = state.type
        if jsonpath and kind in (StateType.CHOICE, StateType.SUCCEED, StateType.FAIL, StateType.WAIT):
            data["afterInputPath"] = seen.get("afterInputPath", self.request.input)
        elif jsonpath and kind in (StateType.PASS, StateType.TASK, StateType.MAP, StateType.PARALLEL):
            result = seen.get("result", UNSET)
            if kind is StateType.PASS:
                result = state.result if is_set(state.result) else UNSET
            shows_input_path = kind in (StateType.TASK, StateType.MAP) or (
                kind is StateType.PASS and not is_set(state.result))
            if shows_input_path and "afterInputPath" in seen:
                data["afterInputPath"] = seen["afterInputPath"]
            if kind in (StateType.TASK, StateType.PASS) and "afterInputPath" in data:
                data["afterParameters"] = seen.get("afterParameters", data["afterInputPath"])
            if kind is StateType.MAP and "afterItemsPath" in seen:
                data["afterItemsPath"] = seen["afterItemsPath"]
            if outcome.status == SUCCEEDED and "beforeOutputPath" in seen:
                selected = seen.get("result", UNSET) if kind is not StateType.PASS else (
                    state.result if is_set(state.result) else data.get("afterParameters"))
                data["afterResultSelector"] = seen.get("afterResultSelector", selected)
                data["afterResultPath"] = seen["beforeOutputPath"]
            if is_set(result) and kind in (StateType.TASK, StateType.PASS):
                data["result"] = result
        elif kind is StateType.TASK:
            if "afterArguments" in seen:
                data["afterArguments"] = seen["afterArguments"]
            if "result" in seen:
                data["result"] = seen["result"]
        for key in ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage"):
            if key in seen:
                data[key] = seen[key]
        variables = {**(self.request.variables or {}), **self.assigned}
        if variables:
            data["variables"] = variables
        if self.error_details:
            data["errorDetails"] = dict(self.error_details)
        numbers = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage", "errorDetails")
        return {k: v if k in numbers else jsontext.dumps(v) for k, v in data.items()}
