"""Retry and Catch: AWS's error-matching rules and the back-off maths."""

from __future__ import annotations

import math
from collections.abc import Iterable

from stateway.asl.errors import ErrorName
from stateway.asl.timestamps import LATEST_MS

# Errors that no Retry or Catch handles: the execution fails whatever the state says.
UNCATCHABLE = frozenset({ErrorName.RUNTIME.value})


def error_matches(error_equals: Iterable[str], error: str) -> bool:
    """True when a retrier's or catcher's `ErrorEquals` covers `error`.

    `States.ALL` matches every catchable error; `States.TaskFailed` matches every error except
    `States.Timeout` (AWS's documented wildcard behaviour).
    """
    if error in UNCATCHABLE:
        return False
    for name in error_equals:
        if name == error or name == ErrorName.ALL:
            return True
        if name == ErrorName.TASK_FAILED and error != ErrorName.TIMEOUT:
            return True
    return False


def retry_delay_ms(interval_seconds: float, backoff_rate: float, attempt: int,
                   max_delay_seconds: float | None, jitter: str, random_value: float) -> int:
    """Delay before retry number `attempt` (0-based): interval × rate^attempt, capped, maybe jittered."""
    try:
        delay = float(interval_seconds) * (float(backoff_rate) ** attempt)
    except OverflowError:  # a rate raised to a large attempt number: longer than any timer
        delay = math.inf
    if max_delay_seconds is not None:
        delay = min(delay, float(max_delay_seconds))
    if jitter == "FULL":
        delay = delay * random_value
    # A delay that long ends past the latest instant a timer holds from any moment (`clamp_ms`).
    return int(min(delay * 1000, LATEST_MS))
