"""Lambda's queue of asynchronous invocations (`lambda:invoke` with InvocationType Event), made durable.

An Event invocation is stored (table `async_invocations`) in the transaction that records the task's
result, Lambda's 202: a crash before that commit re-runs the task, which queues it again; a crash after
it finds the invocation stored. The engine's workers run it once that commit is durable, or after a
restart, and it is deleted in a later commit once it has run — at least once, as on Lambda. A function
error is retried as Lambda retries it by default: twice, a minute and then two minutes later; after the
third failure the invocation is discarded, with a warning on `stateway.functions`. As on Lambda, an
attempt that runs longer than the function's timeout (its own, or the engine's default for every
function: Lambda's maximum unless the engine is given another) is such a failure: its late result is never read, and the thread it hangs in
is no longer one of the engine's workers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stateway.asl import jsontext
from stateway.workers import function_task, lambda_names
from stateway.workers import python as pyfunctions
from stateway.workers.function_task import EventInvocation, Outcome

log = logging.getLogger("stateway.functions")

# Lambda's defaults for a function error: two retries, one minute after the first attempt and two
# minutes after the second (MaximumRetryAttempts 2).
RETRY_DELAYS_MS: tuple[int, ...] = (60_000, 120_000)

Key = tuple[str, str]  # (execution ARN, task id): the task that invoked it


@dataclass(frozen=True)
class Queued:
    """A worker's answer to a task that invoked a function with InvocationType Event: the task's result
    (Lambda's 202) and the invocation to store with it."""

    outcome: Outcome
    invocation: EventInvocation


@dataclass(frozen=True)
class Ran:
    """A worker ran a stored invocation (`attempts` is how many failed before this one)."""

    key: Key
    attempts: int
    failed: bool


@dataclass
class Changes:
    """What one commit changes in `async_invocations`."""

    queued: list[tuple[Any, ...]] = field(default_factory=list)
    retried: list[tuple[int, int, str, str]] = field(default_factory=list)  # (attempts, due, *key)
    done: list[Key] = field(default_factory=list)


def changes(queued: Sequence[tuple[str, str, EventInvocation]], ran: Sequence[Ran], now: int) -> Changes:
    """The rows a round writes: the invocations it queued, and what becomes of those that ran."""
    out = Changes(queued=[(arn, task_id, inv.function, jsontext.dumps(inv.payload), inv.request_id,
                           inv.idempotency_key, now) for arn, task_id, inv in queued])
    for result in ran:
        if result.failed and result.attempts < len(RETRY_DELAYS_MS):
            out.retried.append((result.attempts + 1, now + RETRY_DELAYS_MS[result.attempts], *result.key))
        else:
            out.done.append(result.key)
    return out


def record(db: Any, q: Mapping[str, str], changes: Changes) -> None:
    """Write a round's changes; called inside the engine's commit transaction."""
    if changes.queued:
        # A task answered twice (a token task re-run after a crash) queues its invocation once.
        db.executemany(q["queue_invocation"], changes.queued)
    if changes.retried:
        db.executemany(q["retry_invocation"], changes.retried)
    if changes.done:
        db.executemany(q["delete_invocation"], changes.done)


def from_row(row: Mapping[str, Any]) -> tuple[Key, EventInvocation, int]:
    """(key, invocation, failed attempts) of an `async_invocations` row (its `function_name` holds the
    ARN the function was invoked by)."""
    invocation = EventInvocation(row["function_name"], json.loads(row["payload"]), row["request_id"],
                                 row["idempotency_key"])
    return (row["execution_arn"], row["task_id"]), invocation, row["attempts"]


def run(functions: Mapping[str, pyfunctions.Handler], key: Key, invocation: EventInvocation, attempts: int,
        timeout_seconds: float = pyfunctions.DEFAULT_TIMEOUT_SECONDS, *, region: str, account: str) -> Ran:
    """Call the function once, as Lambda's queue does, for at most its timeout (`timeout_seconds` for a
    function without one of its own); a failure (a timeout too) is logged, never raised. `region` and
    `account` are this server's, for an invocation stored by name only."""
    shown = invocation.function
    function = lambda_names.parse(shown)
    handler = functions.get(function.registered_as) if function is not None else None
    if function is None or handler is None:  # a process started without it: as if deleted meanwhile
        failed, error = True, f"Lambda.ResourceNotFoundException: no function {shown} in this process"
    else:
        bound = pyfunctions.timeout_of(handler, timeout_seconds)  # the function's own, else the default
        result = function_task.invoke(handler, invocation.payload, function, region=region, account=account,
                                      timeout_seconds=bound, idempotency_key=invocation.idempotency_key,
                                      request_id=invocation.request_id)
        failed, error = not result.ok, f"{result.error}: {result.cause}"
        if result.timed_out:  # Lambda's words for it
            error = f"Task timed out after {bound:.2f} seconds"
    if failed:
        then = f"retried in {RETRY_DELAYS_MS[attempts] // 1000} s" if attempts < len(RETRY_DELAYS_MS) \
            else f"discarded after {attempts + 1} attempts"
        log.warning("asynchronous invocation of %s (request %s) failed: %s; %s", shown, invocation.request_id,
                    error, then)
    return Ran(key, attempts, failed)
