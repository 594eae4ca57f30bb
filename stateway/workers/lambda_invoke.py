"""The optimised `arn:aws:states:::lambda:invoke` integration: its request and result shapes."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from stateway.asl import jsontext
from stateway.asl.events import ScheduleTask


def request_of(command: ScheduleTask) -> tuple[str, Any]:
    """(function name or ARN, the event the handler receives) from the task's Parameters."""
    params = command.input if isinstance(command.input, dict) else {}
    payload = params.get("Payload")
    if payload is None:
        payload = {}  # no request body: the Python runtime hands the handler an empty object
    elif isinstance(payload, str):
        # lambda:invoke sends a string Payload as the request body itself, as JSON text.
        with contextlib.suppress(ValueError):
            payload = jsontext.loads(payload)
    return str(params.get("FunctionName", "")), payload


def qualifier_of(command: ScheduleTask) -> str | None:
    """The task's `Qualifier` parameter (a version or alias), None when it has none. A value that is not
    a string is read as its JSON text, as a string member is (`3` is version 3)."""
    params = command.input if isinstance(command.input, dict) else {}
    qualifier = params.get("Qualifier")
    if qualifier is None or isinstance(qualifier, str):
        return qualifier
    return json.dumps(qualifier, separators=(",", ":"))


# Lambda's invocation types; RequestResponse (waiting for the result) is the default.
REQUEST_RESPONSE = "RequestResponse"
EVENT = "Event"
DRY_RUN = "DryRun"
INVOCATION_TYPES = (EVENT, REQUEST_RESPONSE, DRY_RUN)  # in the order Lambda's error message lists them
# What Lambda answers an invocation it only queued (Event) or only checked (DryRun): no body.
_NO_BODY_STATUS = {EVENT: 202, DRY_RUN: 204}


def invocation_type(command: ScheduleTask) -> Any:
    """The task's `InvocationType` parameter, RequestResponse when it has none."""
    params = command.input if isinstance(command.input, dict) else {}
    return params.get("InvocationType", REQUEST_RESPONSE)


def invocation_type_problem(value: Any) -> str:
    """Lambda's words for an InvocationType it does not know (an item of its ValidationException)."""
    shown = value if isinstance(value, str) else json.dumps(value)
    return (f"Value '{shown}' at 'invocationType' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]")


def validation_cause(problems: list[str]) -> str:
    """Lambda's ValidationException for a request it refuses, as Step Functions reports a Lambda error."""
    count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
    return (f"{count}: {'; '.join(problems)} (Service: AWSLambda; Status Code: 400; Error Code: "
            f"ValidationException; Request ID: {uuid.uuid4()}; Proxy: null)")


def no_body_response(kind: str, request_id: str) -> dict[str, Any]:
    """The result shape of lambda:invoke for an Event (202) or DryRun (204) invocation: an empty Payload
    and no executed version, since nothing has run yet (or will)."""
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    trace_id = _trace_id()
    status = _NO_BODY_STATUS[kind]
    return {
        "Payload": "",
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": ["0"],
                "Date": [now],
                "X-Amzn-Trace-Id": [trace_id],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": "0",
                "Content-Type": "application/json",
                "Date": now,
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace_id,
            },
            "HttpStatusCode": status,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status,
    }


def invoke_response(payload: Any, request: Any, executed_version: str, request_id: str) -> Any:
    """The result shape of the optimised `arn:aws:states:::lambda:invoke` integration, for an invocation
    that ran `executed_version` of the function under `request_id`: as on Lambda, the one id of the
    invocation is the handler's `context.aws_request_id`, the response's and its log's."""
    # Lambda's Python runtime writes the response with json.dumps' default separators.
    body = json.dumps(payload)
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    trace_id = _trace_id()
    response: dict[str, Any] = {
        "ExecutedVersion": executed_version,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": [executed_version],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [str(len(body.encode()))],
                "Date": [now],
                "X-Amzn-Trace-Id": [trace_id],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": str(len(body.encode())),
                "Content-Type": "application/json",
                "Date": now,
                "X-Amz-Executed-Version": executed_version,
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
    if isinstance(request, dict) and request.get("LogType") == "Tail":
        # Lambda returns the tail of the invocation's log, base64-encoded, when asked.
        log = f"START RequestId: {request_id} Version: {executed_version}\nEND RequestId: {request_id}\n"
        response["LogResult"] = base64.b64encode(log.encode()).decode()
        response["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = [response["LogResult"]]
        response["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = response["LogResult"]
    return response


def _trace_id() -> str:
    """An X-Ray trace id for a response's `X-Amzn-Trace-Id` header (both header maps show the same one)."""
    return f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
