"""Nested executions: `arn:aws:states:::states:startExecution` with `.sync`, `.sync:2` and `.waitForTaskToken`."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from stateway.asl import jsontext
from stateway.asl.events import (
    CompleteExecution,
    ExecutionInfo,
    ScheduleTask,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
)
from stateway.asl.timestamps import format_timestamp
from stateway.engine import arns
from stateway.engine.errors import ApiError, ExecutionAlreadyExists
from stateway.engine.service import redrive_status

if TYPE_CHECKING:
    from stateway.engine.runtime import Engine


def start_nested(engine: Engine, execution_arn: str, command: ScheduleTask) -> None:
    """Start the child execution; `.sync` variants answer when it ends, the others at once."""
    params = command.input if isinstance(command.input, dict) else {}
    # AWS starts the child with `{}` when Input is absent or null; a string is the input's JSON text.
    child_input = params.get("Input")
    if child_input is None:
        child_input = {}
    input_text = child_input if isinstance(child_input, str) else jsontext.dumps(child_input)
    pattern = command.service_resource.partition(".")[2]  # "", "sync", "sync:2" or "waitForTaskToken"
    parent = {"execution_arn": execution_arn, "task_id": command.task_id, "pattern": pattern} \
        if pattern.startswith("sync") else None
    engine.post(execution_arn, TaskStarted(command.task_id))
    # Without a Name, the child's name is derived from the parent's task, so that re-running this
    # task after a crash finds the child it already started instead of starting a second one.
    name = params.get("Name") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_arn}/{command.task_id}"))
    try:
        child_arn = engine.service.start_execution(
            str(params.get("StateMachineArn", "")), input_text=input_text, name=name, parent_task=parent)
    except ExecutionAlreadyExists:
        machine_arn = str(params.get("StateMachineArn", ""))
        child = engine.service.store.one("find_execution", {"state_machine_arn": machine_arn, "name": name})
        if child is None or child["input"] != input_text:
            raise
        child_arn = str(child["arn"])  # started before a crash; a finished `.sync` child has answered already
    if parent is not None and engine.store.one("get_task", {"execution_arn": execution_arn,
                                                            "id": command.task_id}) is None:
        # The task timed out or was cancelled while its child was being started: the stop that came
        # with that found no child, and nothing waits for this one.
        engine.service.stop_execution(child_arn)
    started = engine.service.describe_execution(child_arn)["startDate"]
    response = {"ExecutionArn": child_arn, "StartDate": format_timestamp(int(started.timestamp() * 1000))}
    if pattern.startswith("sync") or pattern == "waitForTaskToken":
        engine.post(execution_arn, TaskSubmitted(command.task_id, response))  # which marks the task WAITING
    else:
        engine.post(execution_arn, TaskSucceeded(command.task_id, response))


def nested_result(child: ExecutionInfo, parent: dict[str, Any], done: CompleteExecution,
                  now: int) -> TaskSucceeded | TaskFailed:
    """The parent's answer in AWS's shape: DescribeExecution's fields, capitalised. From the child's
    snapshot, not its row: the decider may answer before the child's last rounds are stored."""
    body: dict[str, Any] = {
        "ExecutionArn": child.execution_arn,
        "Input": child.input_text,
        "InputDetails": {"Included": True},
        "Name": child.name,
        "StartDate": format_timestamp(child.start_time_ms),
        "StateMachineArn": arns.machine_of_version(child.state_machine_arn)[0],
        "Status": done.status,
        "StopDate": format_timestamp(now),
    }
    if ":express:" not in child.execution_arn:  # as DescribeExecution: an Express execution has no redrive
        body["RedriveCount"] = child.redrive_count
        body.update(redrive_status({"status": done.status, "error": done.error, "cause": done.cause,
                                    "start_ms": child.start_time_ms, "stop_ms": now}, now,
                                   "RedriveStatus", "RedriveStatusReason"))
    if parent.get("pattern") == "sync:2":
        body["Input"] = jsontext.loads(body["Input"])
    if done.status == "SUCCEEDED":
        output: Any = done.output or "null"
        body["Output"] = jsontext.loads(output) if parent.get("pattern") == "sync:2" else output
        body["OutputDetails"] = {"Included": True}
        return TaskSucceeded(parent["task_id"], body)
    if done.error is not None:
        body["Error"] = done.error
    if done.cause is not None:
        body["Cause"] = done.cause
    return TaskFailed(parent["task_id"], "States.TaskFailed", json.dumps(body, separators=(",", ":")))


def start_failed(task_id: str, exc: Exception) -> TaskFailed:
    """A StartExecution that failed, as the task's failure in AWS's shape: the error is named after the
    service's exception and the cause is its message with the SDK's account of the response appended."""
    name = getattr(exc, "type_name", type(exc).__name__)
    error = f"StepFunctions.{name}" if name.endswith("Exception") else f"StepFunctions.{name}Exception"
    if not isinstance(exc, ApiError):
        return TaskFailed(task_id, error, str(exc))
    return TaskFailed(task_id, error, f"{exc.message} (Service: AWSStepFunctions; Status Code: {exc.status}; "
                                      f"Error Code: {name}; Request ID: {uuid.uuid4()}; Proxy: null)")
