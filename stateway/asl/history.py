"""History events shaped exactly like the Step Functions GetExecutionHistory response."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from stateway.asl.causes import error_details
from stateway.asl.errors import Failure
from stateway.asl.resources import ResourceRef

# The events that end an execution: the timestamp of the one recorded is the execution's stopDate.
CLOSING_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


def stop_ms(events: Sequence[dict[str, Any]], default: int) -> int:
    """The timestamp of the event among `events` that ended the execution, else `default`."""
    return next((e["timestamp"] for e in reversed(events) if e["type"] in CLOSING_EVENTS), default)


@cache
def details_key(event_type: str) -> str:
    """`TaskStateEntered` → `stateEnteredEventDetails`; `MapIterationStarted` → `mapIterationStartedEventDetails`."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def event(event_id: int, previous_event_id: int, timestamp_ms: int, event_type: str,
          details: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": event_id,
        "previousEventId": previous_event_id,
        "timestamp": timestamp_ms,
        "type": event_type,
    }
    if details is not None:
        out[details_key(event_type)] = details
    return out


def event_of_row(row: Sequence[Any]) -> dict[str, Any]:
    """An event as `event` makes it, from its `[id, previous id, type, timestamp, details]` row."""
    return event(row[0], row[1], row[3], row[2], row[4])


def execution_started_details(input_text: str, role_arn: str) -> dict[str, Any]:
    """The details of ExecutionStarted, the first event of every execution's history."""
    return {"input": input_text, "inputDetails": {"truncated": False}, "roleArn": role_arn}


def task_family(ref: ResourceRef) -> str:
    """The event-name family: `LambdaFunction…` for Lambda ARNs, `Activity…`, else `Task…`."""
    if ref.kind == "lambda":
        return "LambdaFunction"
    if ref.kind == "activity":
        return "Activity"
    return "Task"


def task_scheduled_details(ref: ResourceRef, input_text: str, timeout: int | None, heartbeat: int | None,
                           credentials: Any, region: str) -> dict[str, Any]:
    """`input_text` is the task's input as JSON text."""
    if ref.kind in ("lambda", "activity"):
        details: dict[str, Any] = {
            "resource": ref.arn,
            "input": input_text,
            "inputDetails": {"truncated": False},
        }
    else:
        details = {
            "resourceType": ref.resource_type,
            "resource": ref.resource,
            "region": region,
            "parameters": input_text,
        }
    if timeout is not None:
        details["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        details["heartbeatInSeconds"] = heartbeat
    if credentials is not None:
        details["taskCredentials"] = {"roleArn": credentials.get("RoleArn")} if isinstance(credentials, dict) else {}
    return details


def task_started_details(ref: ResourceRef, worker_name: str | None) -> dict[str, Any] | None:
    if ref.kind == "lambda":
        return None
    if ref.kind == "activity":
        return {"workerName": worker_name} if worker_name else {}
    return {"resourceType": ref.resource_type, "resource": ref.resource}


def task_result_details(ref: ResourceRef, output_text: str) -> dict[str, Any]:
    """The details of a task's Succeeded or Submitted event; `output_text` is already JSON text."""
    details: dict[str, Any] = {"output": output_text, "outputDetails": {"truncated": False}}
    if ref.kind == "service":
        details = {"resourceType": ref.resource_type, "resource": ref.resource, **details}
    return details


def task_failure_details(ref: ResourceRef, failure: Failure) -> dict[str, Any]:
    details = error_details(failure)
    if ref.kind == "service":
        details = {"resourceType": ref.resource_type, "resource": ref.resource, **details}
    return details
