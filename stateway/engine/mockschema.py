"""Checks a TestState mock result against the AWS API output shape of the task's service action.

TestState's `fieldValidationMode` (STRICT by default, PRESENT, NONE) checks a mocked result against
the output shape of the service API the Task calls. The shapes come from botocore's service models
when botocore is installed (it ships with boto3); without it, or for a resource whose service is not
modelled, the mock is accepted as it is. Messages are AWS's: `Mock result schema validation error:
Field 'X' must be a number`.
"""

from __future__ import annotations

import functools
from typing import Any

from stateway.asl.resources import parse_resource

# Step Functions validates against its own (older) copies of the models where they differ from botocore's.
_LIMIT_OVERRIDES: dict[tuple[str, str], dict[str, int]] = {("lambda", "MemorySize"): {"min": 128, "max": 10240}}
# Optimized integrations that return a member as JSON rather than as the API's blob.
_JSON_MEMBERS = {("lambda", "Invoke"): {"Payload"}}
# Service names in `aws-sdk:<service>` that botocore spells differently.
_SERVICE_ALIASES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}


class MockSchemaError(Exception):
    """The mocked result does not fit the API's output shape; `message` is AWS's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    try:
        import botocore.session
    except ImportError:  # botocore is optional: without it, mocks are not checked
        return None
    return botocore.session.get_session()


@functools.lru_cache(maxsize=256)
def _output_shape(service: str, operation: str) -> Any:
    session = _session()
    if session is None:
        return None
    try:
        model = session.get_service_model(_SERVICE_ALIASES.get(service, service))
        name = operation[:1].upper() + operation[1:]
        return model.operation_model(name).output_shape
    except Exception:  # an unknown service or action: nothing to check against
        return None


def check_mock_result(resource: str | None, result: Any, mode: str = "STRICT") -> None:
    """Raise MockSchemaError when `result` does not fit the output shape of the task's API action."""
    if mode == "NONE" or resource is None:
        return
    ref = parse_resource(resource)
    if ref.kind != "service":
        return
    service = ref.resource_type.removeprefix("aws-sdk:")
    operation = ref.resource.split(".")[0]
    if not service or not operation:
        return
    shape = _output_shape(service, operation)
    if shape is None:
        return
    operation_name = operation[:1].upper() + operation[1:]
    _check(shape, result, shape.name, service, _JSON_MEMBERS.get((service, operation_name), set()), top=True)


def _fail(name: str, problem: str) -> MockSchemaError:
    return MockSchemaError(f"Mock result schema validation error: Field '{name}' {problem}")


def _check(shape: Any, value: Any, name: str, service: str, json_members: set[str], top: bool = False) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _fail(name, "must be an object")
        for key, member_value in value.items():
            member = shape.members.get(key)
            if member is None or (top and key in json_members):
                continue  # fields outside the API's shape (such as SdkHttpMetadata) are not checked
            _check(member, member_value, key, service, json_members)
    elif kind == "list":
        if not isinstance(value, list):
            raise _fail(name, "must be an array")
        for element in value:
            _check(shape.member, element, name, service, json_members)
    elif kind == "map":
        if not isinstance(value, dict):
            raise _fail(name, "must be an object")
        for element in value.values():
            _check(shape.value, element, name, service, json_members)
    elif kind in ("string", "blob"):
        if not isinstance(value, str):
            raise _fail(name, "must be a string")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            raise _fail(name, "is not an expected value")
        minimum = shape.metadata.get("min")
        if isinstance(minimum, int) and len(value) < minimum:
            raise _fail(name, "is smaller than the minimum length")
    elif kind in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(name, "must be a number")
        limits = {**shape.metadata, **_LIMIT_OVERRIDES.get((service, name), {})}
        if isinstance(limits.get("min"), int | float) and value < limits["min"]:
            raise _fail(name, "is less than the minimum value")
        if isinstance(limits.get("max"), int | float) and value > limits["max"]:
            raise _fail(name, "exceeds the maximum value")
    elif kind == "boolean" and not isinstance(value, bool):
        raise _fail(name, "must be a boolean")
