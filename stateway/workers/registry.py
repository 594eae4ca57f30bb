"""The `@stateway.function("name")` registry: task functions declared in code instead of files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_REGISTRY: dict[str, Callable[[Any, Any], Any]] = {}


def function(name: str | None = None) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Register a `handler(event, context)` as the Lambda function `name` (default: its own name)."""

    def register(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        _REGISTRY[name or handler.__name__] = handler
        return handler

    return register


def registered() -> dict[str, Callable[[Any, Any], Any]]:
    """A copy of every function registered so far."""
    return dict(_REGISTRY)
