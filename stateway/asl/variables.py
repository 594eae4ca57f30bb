"""Workflow variables' size quotas, checked before any assignment of a state takes effect."""

from __future__ import annotations

from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import ErrorName, FailureError

VARIABLE_LIMIT_BYTES = 262_144  # AWS: 256 KiB for one variable, and for everything one Assign sets


def checked_assignment(assigned: dict[str, Any]) -> dict[str, Any]:
    """Enforce Step Functions' variable size quotas before any assignment takes effect."""
    total = 0
    for name, value in assigned.items():
        size = len(jsontext.dumps(value).encode("utf-8"))
        if size > VARIABLE_LIMIT_BYTES:
            raise FailureError(ErrorName.RUNTIME.value, f"The variable '{name}' is {size} bytes, over the "
                               f"maximum size of {VARIABLE_LIMIT_BYTES} bytes for a variable.")
        total += size
    if total > VARIABLE_LIMIT_BYTES:
        raise FailureError(ErrorName.RUNTIME.value, f"The variables assigned by this state total {total} bytes, "
                           f"over the maximum of {VARIABLE_LIMIT_BYTES} bytes for one Assign.")
    return assigned
