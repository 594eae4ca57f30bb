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


def invoke_response(payload: Any, request: Any) -> Any:
    """The result shape of the optimised `arn:aws:states:::lambda:invoke` integration."""
    # Lambda's Python runtime writes the response with json.dumps' default separators.
    body = json.dumps(payload)
    request_id = str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    response: dict[str, Any] = {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [str(len(body.encode()))],
                "Date": [now],
                "X-Amzn-Trace-Id": [f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": str(len(body.encode())),
                "Content-Type": "application/json",
                "Date": now,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
    if isinstance(request, dict) and request.get("LogType") == "Tail":
        # Lambda returns the tail of the invocation's log, base64-encoded, when asked.
        log = f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n"
        response["LogResult"] = base64.b64encode(log.encode()).decode()
        response["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = [response["LogResult"]]
        response["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = response["LogResult"]
    return response


