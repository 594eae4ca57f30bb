"""A Task state that calls a Python function: from its ScheduleTask command to the core event that
reports how it ended. The engine, Express runs and the local runner all run function tasks this way."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stateway.asl.events import ScheduleTask, TaskFailed, TaskSubmitted, TaskSucceeded, TaskTimedOut
from stateway.workers import lambda_invoke, lambda_names
from stateway.workers import python as pyfunctions
from stateway.workers.lambda_invoke import request_of

Outcome = TaskSucceeded | TaskSubmitted | TaskFailed | TaskTimedOut
log = logging.getLogger("stateway.functions")


def function_target(command: ScheduleTask) -> tuple[str, Any, bool] | None:
    """(function name or ARN, the handler's event, whether the result takes lambda:invoke's shape),
    or None when the task is not a Python function."""
    if command.kind == "lambda":
        return command.resource, command.input, False
    if command.resource_type == "lambda" and command.service_resource.startswith("invoke"):
        target, payload = request_of(command)
        return target, payload, True
    return None


@dataclass(frozen=True)
class EventInvocation:
    """An Event invocation that Lambda has answered 202 for and not run yet: what its queue holds."""

    function: str  # the ARN it was invoked by, qualified as it was (invocations stored earlier: a bare name)
    payload: Any  # the event the handler receives
    request_id: str  # the 202's, and the context's on every attempt
    idempotency_key: str  # the task's


def idempotency_key(execution_arn: str, command: ScheduleTask) -> str:
    """`context.idempotency_key`: the execution and the task's run in it (`ScheduleTask.run_key`), the same
    whenever that run is run again; a task stored before run keys existed keeps its frame id instead."""
    if command.run_key:
        return f"{execution_arn}/{command.run_key}"
    return f"{execution_arn}/{command.frame_id}/{command.state_name}/{command.attempt}"


def run_function_task(command: ScheduleTask, functions: Mapping[str, pyfunctions.Handler], *,
                      region: str, account: str, idempotency_key: str,
                      heartbeat: Callable[[], None] | None = None,
                      queue: Callable[[EventInvocation], None] | None = None,
                      default_timeout_seconds: float = pyfunctions.DEFAULT_TIMEOUT_SECONDS,
                      watch: pyfunctions.Watch | None = None,
                      on_timeout: Callable[[Outcome], None] | None = None) -> Outcome | None:
    """Call the task's function now; `command` must be a function task (see `function_target`). An
    Event invocation goes to `queue`, which must run it later (the engine stores it with the 202);
    without one it starts at once on a thread of its own, as in-memory runs have nothing to store it in.

    The call is bounded by the function's timeout (`default_timeout_seconds` for a function without its
    own) or the task's `TimeoutSeconds`, whichever is shorter. The function's fails the task as Lambda's
    does, with `Sandbox.Timedout`; the task's is a TaskTimedOut. With `watch` (see `pyfunctions.invoke`),
    that outcome goes to `on_timeout` when the bound passes, and None is returned once the hung call ends."""
    found = function_target(command)
    assert found is not None, f"{command.resource} is not a Python function task"
    target, payload, wrapped = found
    # Lambda checks the request (a 400) before it looks the function up (a 404).
    problems = lambda_names.problems(target)
    qualifier = lambda_invoke.qualifier_of(command) if wrapped else None
    if qualifier is not None:
        problems += lambda_names.qualifier_problems(qualifier)
    kind = lambda_invoke.invocation_type(command) if wrapped else lambda_invoke.REQUEST_RESPONSE
    if kind not in lambda_invoke.INVOCATION_TYPES:
        problems.append(lambda_invoke.invocation_type_problem(kind))
    named = lambda_names.parse(target)
    if problems or named is None:
        return TaskFailed(command.task_id, "Lambda.AWSLambdaException", lambda_invoke.validation_cause(problems))
    function = named.with_qualifier(qualifier)
    if function is None:
        return TaskFailed(command.task_id, "Lambda.InvalidParameterValueException",
                          _lambda_cause(lambda_names.QUALIFIER_MISMATCH, 400, "InvalidParameterValueException"))
    # A version or alias is a function of its own: `NAME:prod` runs what is registered under that name.
    handler = functions.get(function.registered_as)
    if handler is None:
        return TaskFailed(command.task_id, "Lambda.ResourceNotFoundException",
                          _lambda_cause(f"Function not found: {function.arn(region, account)}", 404,
                                        "ResourceNotFoundException"))
    if kind != lambda_invoke.REQUEST_RESPONSE:
        # Lambda answers an Event invocation once it has queued it, under the request id it runs with.
        request_id = pyfunctions.new_request_id()
        if kind == lambda_invoke.EVENT:
            invocation = EventInvocation(function.invoked_arn(region, account), payload, request_id, idempotency_key)
            if queue is not None:
                queue(invocation)
            else:
                _invoke_in_background(handler, invocation, function, region, account,
                                      pyfunctions.timeout_of(handler, default_timeout_seconds))
        return _answered(command, lambda_invoke.no_body_response(kind, request_id))
    function_timeout = pyfunctions.timeout_of(handler, default_timeout_seconds)
    # At equal bounds the task's wins: its clock started first, when the task was scheduled.
    task_bound = command.timeout_seconds is not None and command.timeout_seconds <= function_timeout
    bound = command.timeout_seconds if task_bound else function_timeout

    def timed_out(result: pyfunctions.Invocation) -> Outcome:
        return TaskTimedOut(command.task_id) if task_bound else TaskFailed(command.task_id, result.error, result.cause)

    result = invoke(handler, payload, function, region=region, account=account, timeout_seconds=bound,
                    idempotency_key=idempotency_key, heartbeat=heartbeat, watch=watch,
                    on_timeout=(lambda late: on_timeout(timed_out(late))) if on_timeout else None)
    if result.timed_out:
        return None if watch is not None else timed_out(result)
    if not result.ok:
        return TaskFailed(command.task_id, result.error, result.cause)
    output = lambda_invoke.invoke_response(result.output, command.input, executed_version(handler, function),
                                           result.request_id) if wrapped else result.output
    return _answered(command, output)


def executed_version(handler: pyfunctions.Handler, function: lambda_names.FunctionName) -> str:
    """Lambda's `ExecutedVersion` of an invocation of `function` that runs `handler`: the version an alias
    points at (`pyfunctions.AliasHandler`), else the one the qualifier names (`$LATEST` for an alias
    registered with a handler of its own, as an alias of `$LATEST`)."""
    return handler.version if isinstance(handler, pyfunctions.AliasHandler) else function.executed_version


def invoke(handler: pyfunctions.Handler, payload: Any, function: lambda_names.FunctionName, *, region: str,
           account: str, **options: Any) -> pyfunctions.Invocation:
    """Call `function`'s handler with the context Lambda gives it: the unqualified name, the version that
    runs and the ARN it was invoked by (this server's region and account where the name gives none)."""
    return pyfunctions.invoke(handler, payload, function.name, function_version=executed_version(handler, function),
                              invoked_function_arn=function.invoked_arn(region, account), **options)


def _lambda_cause(message: str, status: int, code: str) -> str:
    """A Lambda error as Step Functions reports it: the SDK's message for the service's answer."""
    return (f"{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
            f"Request ID: {uuid.uuid4()}; Proxy: null)")


def _answered(command: ScheduleTask, output: Any) -> Outcome:
    if command.task_token is not None:
        return TaskSubmitted(command.task_id, output)  # handed over with its token; the answer comes later
    return TaskSucceeded(command.task_id, output)


def _invoke_in_background(handler: pyfunctions.Handler, invocation: EventInvocation,
                          function: lambda_names.FunctionName, region: str, account: str,
                          timeout_seconds: float) -> None:
    """Run an Event invocation on a thread of its own: as with Lambda's queue, the task does not wait for
    it, and neither its result nor its failure reaches the execution; a failure is logged."""

    def run() -> None:
        result = invoke(handler, invocation.payload, function, region=region, account=account,
                        timeout_seconds=timeout_seconds, idempotency_key=invocation.idempotency_key,
                        request_id=invocation.request_id)
        if not result.ok:
            log.warning("asynchronous invocation of %s (request %s) failed: %s: %s", invocation.function,
                        result.request_id, result.error, result.cause)

    threading.Thread(target=run, name=f"fn-event-{function.name}", daemon=True).start()
