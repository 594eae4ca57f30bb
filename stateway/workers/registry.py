"""The `@stateway.function("name")` registry: task functions declared in code instead of files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, overload

from stateway.workers.python import AliasHandler, TimedHandler, valid_timeout

Handler = Callable[[Any, Any], Any]

_REGISTRY: dict[str, Handler] = {}
LATEST = "$LATEST"


@overload
def function(name: Handler, /) -> Handler: ...
@overload
def function(name: str | None = None, /, *, timeout: float | None = None,
             aliases: Iterable[str] = ()) -> Callable[[Handler], Handler]: ...
def function(name: str | Handler | None = None, /, *, timeout: float | None = None,
             aliases: Iterable[str] = ()) -> Handler | Callable[[Handler], Handler]:
    """Register a `handler(event, context)` as the Lambda function `name` (default: its own name), as
    `@function("name")`, `@function()` or `@function`; `timeout` is how many seconds it may run (default:
    the engine's, for every function), as a Lambda function's Timeout is. `name:QUALIFIER` registers it
    as a version (`name:3`) or alias (`name:prod`) of `name`, which only a task that names that qualifier runs.
    `aliases` are aliases that point at this version (`@function("name:3", aliases=["live"])`), as Lambda's
    CreateAlias makes them: a task that names `name:live` runs it and reports version 3."""
    if callable(name):
        return _register(None, name, None, ())  # used bare: `name` is the handler itself
    if name is not None and not isinstance(name, str):
        raise TypeError(f"stateway.function takes a function name (a str), not {type(name).__name__}")
    if timeout is not None:
        try:
            timeout = valid_timeout(timeout)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"stateway.function's timeout {exc}") from None
    aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)

    def register(handler: Handler) -> Handler:
        return _register(name, handler, timeout, aliases)

    return register


def _register(name: str | None, handler: Handler, timeout: float | None, aliases: tuple[str, ...]) -> Handler:
    name = name or getattr(handler, "__name__", None)
    if not name:
        raise TypeError(f"{handler!r} has no __name__: register it as @stateway.function(\"name\")")
    key = _registered_as(name)
    pointing = _alias_keys(key, aliases)  # checked before anything is registered
    declared = handler if timeout is None else TimedHandler(handler, timeout)
    _REGISTRY[key] = declared
    for alias in pointing:
        _REGISTRY[alias] = AliasHandler(declared, key.partition(":")[2] or LATEST)
    return handler  # as it was: calling it yourself calls your function


def _alias_keys(version: str, aliases: tuple[str, ...]) -> list[str]:
    """The names the aliases of the version registered as `version` (`NAME` or `NAME:N`) are registered
    under; ValueError for an alias that is no alias name, or for aliases of an alias."""
    function, _, qualifier = version.partition(":")
    if aliases and qualifier and not qualifier.isdigit():
        raise ValueError(f"stateway.function: {version!r} is an alias: aliases point at a version "
                         f"({function!r} or {function}:NUMBER)")
    keys = []
    for alias in aliases:
        if not isinstance(alias, str):
            raise TypeError(f"stateway.function: an alias is a str, not {type(alias).__name__}")
        key = _registered_as(f"{function}:{alias}")
        if key == function or key.partition(":")[2].isdigit():
            raise ValueError(f"stateway.function: alias {alias!r} of {function!r} is a version: an alias is a "
                             "name of letters, digits, - and _ that is not a number nor $LATEST")
        keys.append(key)
    return keys


def _registered_as(name: str, where: str = "stateway.function") -> str:
    """The name a task looks `name` up by: `NAME` or `NAME:QUALIFIER`, with `NAME:$LATEST` as `NAME`."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: a function name is a str, not {type(name).__name__}")
    if ":" not in name:
        return name
    from stateway.workers import lambda_names  # not at the top: `stateway` imports this module first

    function = lambda_names.parse(name)
    if function is None or name != f"{function.name}:{function.qualifier}":
        raise ValueError(f"{where}: {name!r} is no function name: use NAME, or NAME:QUALIFIER for a "
                         "version or alias (a qualifier of letters, digits, - and _)")
    return function.registered_as


def keyed(functions: Mapping[str, Handler] | None) -> dict[str, Handler]:
    """`functions={name: handler}` as the decorator registers them: a `NAME:QUALIFIER` key is a version or
    alias of NAME, `NAME:$LATEST` is NAME itself, and a key of another form raises ValueError."""
    return {_registered_as(name, "functions"): handler for name, handler in (functions or {}).items()}


def registered() -> dict[str, Handler]:
    """A copy of every function registered so far."""
    return dict(_REGISTRY)
