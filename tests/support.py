"""Helpers the integration and end-to-end tests share: Task states, polling, reading a store file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def task(function: str, next_state: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Task state calling one of the test's Python functions."""
    state: dict[str, Any] = {"Type": "Task", "Resource": FN + function, **extra}
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def wait_for(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the SQLite file through a connection of the test's own, as an operator would."""
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()
