"""The AWS JSON 1.0 wire format of the Step Functions API: targets, bodies, timestamps and errors."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from stateway.engine import errors as api

SERVICE_PREFIX = "AWSStepFunctions."
CONTENT_TYPE = "application/x-amz-json-1.0"


def action_of(target: str | None) -> str:
    """`X-Amz-Target: AWSStepFunctions.StartExecution` → `StartExecution`."""
    if not target or not target.startswith(SERVICE_PREFIX):
        raise api.UnknownOperationException(f"Operation is not supported: '{target or ''}'")
    return target[len(SERVICE_PREFIX):]


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty body is an empty request."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise api.SerializationException("The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise api.SerializationException("The request body must be a JSON object")
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        # AWS JSON 1.0 sends timestamps as epoch seconds with milliseconds.
        return math.floor(value.timestamp() * 1000) / 1000
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def encode_body(value: dict[str, Any]) -> bytes:
    return json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(error: api.ApiError) -> bytes:
    return json.dumps({"__type": error.type_name, "message": error.message}, ensure_ascii=False).encode("utf-8")
