"""The AWS JSON 1.0 wire format of the Step Functions API: targets, bodies, timestamps and errors."""

from __future__ import annotations

import json
import math
import re
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
    if _SURROGATE_ESCAPE.search(body):
        try:  # an escaped lone surrogate: a string no UTF-8 text (nor the store) can hold
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise api.SerializationException("The request body holds a string with a lone UTF-16 surrogate") from None
    for member, given in value.items():
        kind = _MEMBER_KINDS.get(member, "string")
        if given is not None and not _KINDS[kind](given):
            raise api.SerializationException(f"Unexpected value for '{member}': expected {kind}")
        element = _ELEMENT_KINDS.get(member)
        if element is not None and given is not None and not all(_KINDS[element](item) for item in given):
            raise api.SerializationException(f"Unexpected value in '{member}': expected a list of {element}s")
        if kind == "structure" and given is not None:
            _check_structure(member, given)
    return value


def _check_structure(path: str, value: dict[str, Any]) -> None:
    """The members of a nested structure (TestState's `mock`, …) have their JSON types too."""
    for member, kind in _STRUCTURE_MEMBERS.get(path.rsplit(".", 1)[-1], {}).items():
        given = value.get(member)
        if given is None:
            continue
        if not _KINDS[kind](given):
            raise api.SerializationException(f"Unexpected value for '{path}.{member}': expected {kind}")
        if kind == "structure":
            _check_structure(f"{path}.{member}", given)


# The JSON type of each request member of the Step Functions API, by name (a name has one type across
# the actions); any other member is a string. A value of another type is refused before any action
# sees it, as AWS's deserializer does.
_MEMBER_KINDS = {
    "maxResults": "integer", "maxConcurrency": "integer", "toleratedFailureCount": "integer",
    "toleratedFailurePercentage": "number",
    "reverseOrder": "boolean", "includeExecutionData": "boolean", "publish": "boolean", "revealSecrets": "boolean",
    "tags": "list", "tagKeys": "list", "routingConfiguration": "list",
    "loggingConfiguration": "structure", "tracingConfiguration": "structure",
    "encryptionConfiguration": "structure", "mock": "structure", "stateConfiguration": "structure",
}
_KINDS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "structure": lambda v: isinstance(v, dict),
}

_ELEMENT_KINDS = {"tags": "structure", "tagKeys": "string", "routingConfiguration": "structure"}
# The members of the structures whose members are not all strings or that nest further.
_STRUCTURE_MEMBERS = {
    "mock": {"result": "string", "errorOutput": "structure", "fieldValidationMode": "string"},
    "errorOutput": {"error": "string", "cause": "string"},
    "stateConfiguration": {"retrierRetryCount": "integer", "errorCausedByState": "string",
                           "mapIterationFailureCount": "integer", "mapItemReaderData": "string"},
    "loggingConfiguration": {"level": "string", "includeExecutionData": "boolean", "destinations": "list"},
    "tracingConfiguration": {"enabled": "boolean"},
}
# `\ud800`–`\udfff` in the body: a surrogate, alone or half of a pair (which is fine).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


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
    body = {"__type": error.type_name, "message": error.message}
    if error.reason is not None:
        body["reason"] = error.reason
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
