"""A Task state that calls a Python function: from its ScheduleTask command to the core event that
reports how it ended. The engine, Express runs and the local runner all run function tasks this way."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from stateway.asl.events import ScheduleTask, TaskFailed, TaskSubmitted, TaskSucceeded, TaskTimedOut
from stateway.workers import python as pyfunctions
from stateway.workers.lambda_invoke import invoke_response, request_of

Outcome = TaskSucceeded | TaskSubmitted | TaskFailed | TaskTimedOut


def function_target(command: ScheduleTask) -> tuple[str, Any, bool] | None:
    """(function name or ARN, the handler's event, whether the result takes lambda:invoke's shape),
    or None when the task is not a Python function."""
    if command.kind == "lambda":
        return command.resource, command.input, False
    if command.resource_type == "lambda" and command.service_resource.startswith("invoke"):
        target, payload = request_of(command)
        return target, payload, True
    return None


def run_function_task(command: ScheduleTask, functions: Mapping[str, pyfunctions.Handler], *,
                      region: str, account: str, idempotency_key: str,
                      heartbeat: Callable[[], None] | None = None) -> Outcome:
    """Call the task's function now; `command` must be a function task (see `function_target`)."""
    found = function_target(command)
    assert found is not None, f"{command.resource} is not a Python function task"
    target, payload, wrapped = found
    name = pyfunctions.function_name_of(target)
    handler = functions.get(name)
    if handler is None:
        arn = target if target.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{target}"
        return TaskFailed(command.task_id, "Lambda.ResourceNotFoundException",
                          f"Function not found: {arn}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: "
                          f"ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)")
    result = pyfunctions.invoke(handler, payload, name,
                                timeout_seconds=command.timeout_seconds, idempotency_key=idempotency_key,
                                heartbeat=heartbeat)
    if result.timed_out:
        return TaskTimedOut(command.task_id)
    if not result.ok:
        return TaskFailed(command.task_id, result.error, result.cause)
    output = invoke_response(result.output, command.input) if wrapped else result.output
    if command.task_token is not None:
        return TaskSubmitted(command.task_id, output)  # handed over with its token; the answer comes later
    return TaskSucceeded(command.task_id, output)
