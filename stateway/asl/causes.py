"""AWS's wording for failure causes and details that several parts of the interpreter share."""

from __future__ import annotations

from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import Failure


def shown(value: Any) -> str:
    """How AWS quotes a value in a runtime cause: strings bare, everything else as JSON text."""
    return value if isinstance(value, str) else jsontext.dumps(value)


def limit_cause(label: str) -> str:
    return (f"The state/task '{label}' returned a result with a size exceeding the maximum number of bytes "
            "service limit.")


def error_details(failure: Failure) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if failure.error:
        details["error"] = failure.error
    if failure.cause is not None:
        details["cause"] = failure.cause
    return details
