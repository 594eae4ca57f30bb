"""Map Runs of distributed Maps: recorded from the history events the engine commits, read by the API.

A distributed Map's iterations are not in the parent's history; AWS runs them as a Map Run whose item
counts DescribeMapRun reports. Here a Map Run is a `map_runs` row: inserted when the engine commits a
`MapRunStarted` event (reopened by a `MapRunRedriven`), its counts refreshed from the parent frame's join (the Map's children kept as
data in the snapshot) on every commit while it runs, and closed by `MapRunSucceeded`/`MapRunFailed`
(or the end of the execution, or a failure around the Map that cuts it short: ABORTED). All of it
happens inside the engine's commit transaction.

When a Map Run ends the join is gone from the snapshot; the core says how it ended instead (the
`MapRunEnded` command, in the same step as the closing event), so the counts are exact at the end
too, even for a Map Run that starts and ends in one step: what finished is counted as it finished,
and whatever had not finished when it failed or was aborted counts as aborted.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stateway.asl import child_names, frames, interpreter, jsontext
from stateway.asl.events import ChildExecutionChanged, MapRunEnded
from stateway.engine import arns, paging
from stateway.engine import errors as api
from stateway.store.sqlite import SqliteStore

# (execution ARN, event id, previous event id, type, timestamp ms, details JSON) as the engine stores them.
EventRow = tuple[Any, ...]
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "ABORTED")


@dataclass
class Changes:
    """What one commit changes about Map Runs, taken from the round's events, the Map Runs that ended
    in it (`MapRunEnded`) and live snapshots."""

    events: list[EventRow]  # the round's MapRunStarted/Succeeded/Failed events and their MapStateStarted
    settings: dict[tuple[str, int], dict[str, Any]]  # (execution, MapRunStarted id) -> the Map's limits
    progress: list[dict[str, Any]]  # running Map Runs' counts, then the final counts of those that ended
    aborted: list[dict[str, Any]]  # Map Runs cut short by a failure around their Map
    written: list[dict[str, Any]]  # Map Runs whose ResultWriter wrote results: how many
    ended: list[dict[str, Any]]
    # What their child executions did, in order: started, were redriven or wait to be, ended (`ChildRows`).
    children: Sequence[ChildExecutionChanged] = ()


KINDS = frozenset(("MapStateStarted", "MapRunStarted", "MapRunRedriven", "MapRunSucceeded", "MapRunFailed"))


def changes(events: Sequence[EventRow], ended_runs: Sequence[tuple[str, MapRunEnded]],
            snapshots: Mapping[str, interpreter.Snapshot], now: int,
            child_executions: Sequence[ChildExecutionChanged] = ()) -> Changes:
    """Read what `record` will write while the snapshots are still this round's (the decider goes on
    changing them while the writer thread stores the round)."""
    settings: dict[tuple[str, int], dict[str, Any]] = {}
    progress = []
    for arn, join, frame in _distributed_joins(snapshots):
        settings[(arn, frame.prev)] = {
            "max_concurrency": join.max_concurrency,
            "tolerated_failure_percentage": float(join.tolerated_percentage or 0.0),
            "tolerated_failure_count": int(join.tolerated_count or 0)}
        children = {"succeeded": join.succeeded, "failed": join.failed, "running": len(join.running),
                    "pending_redrive": len(join.redriving), "failures_not_redrivable": len(join.not_redrivable)}
        executions = None
        if join.batch_sizes is None:
            counts = children
        else:  # a batched Map Run counts items: a child execution holds a batch of them
            sizes, frames = join.batch_sizes, snapshots[arn].frames
            counts = {"succeeded": join.items_succeeded, "failed": join.items_failed,
                      "running": sum(sizes[frames[child].index] for child in join.running if child in frames),
                      "pending_redrive": sum(sizes[index] for index in join.redriving),
                      "failures_not_redrivable": sum(sizes[index] for index in join.not_redrivable)}
            executions = json.dumps({"total": len(sizes), **children})
        total = sum(join.batch_sizes) if join.batch_sizes is not None else join.size
        progress.append({"execution_arn": arn, "started_event_id": frame.prev, "executions": executions,
                         "total": total if frame.waiting != "items" else None, **counts})
    aborted = []
    written: list[dict[str, Any]] = []
    for arn, run in ended_runs:
        key: dict[str, Any] = {"execution_arn": arn, "started_event_id": run.started_event_id}
        settings.setdefault((arn, run.started_event_id), {
            "max_concurrency": run.max_concurrency, "tolerated_failure_percentage": run.tolerated_failure_percentage,
            "tolerated_failure_count": run.tolerated_failure_count})
        executions = None
        if run.executions is not None:
            total, succeeded, failed = run.executions
            executions = json.dumps({"total": total, "succeeded": succeeded, "failed": failed, "running": 0,
                                     "pending_redrive": 0, "failures_not_redrivable": run.not_redrivable[1]})
        # As a Map Run ends, none of its child executions waits to be redriven any more (AWS's words).
        progress.append({**key, "succeeded": run.items[0], "failed": run.items[1], "running": 0,
                         "executions": executions, "pending_redrive": 0, "total": run.total_items,
                         "failures_not_redrivable": run.not_redrivable[0]})
        if run.status == "ABORTED":
            aborted.append({**key, "stop_ms": now})
        if run.results_written:
            written.append({**key, "results_written": run.results_written})
    return Changes([e for e in events if e[3] in KINDS], settings, progress, aborted, written,
                   [{"execution_arn": arn, "stop_ms": now} for arn, snap in snapshots.items()
                    if snap.status not in (interpreter.RUNNING, "SUCCEEDED")], child_executions)


def record(db: sqlite3.Connection, q: Mapping[str, str], changes: Changes, children: ChildRows) -> None:
    """Write what this commit changes about Map Runs; called inside the engine's commit transaction, for
    each round of a batch in turn. What their child executions did is gathered in `children`, which the
    caller writes once the batch's rounds are recorded."""
    by_id = {(e[0], e[1]): e for e in changes.events}
    for arn, event_id, previous, kind, timestamp, details in changes.events:
        if kind == "MapRunStarted":
            _started(db, q, arn, event_id, previous, timestamp, details, by_id,
                     changes.settings.get((arn, event_id)))
        elif kind == "MapRunRedriven":
            body = json.loads(details or "{}")
            # The redriven Map reads its settings from the definition again (an UpdateMapRun is undone).
            settings = changes.settings.get((arn, event_id)) or {}
            db.execute(q["map_run_redriven"], {"arn": body.get("mapRunArn"), "execution_arn": arn,
                                               "started_event_id": event_id, "redrive_ms": timestamp,
                                               "redrive_count": int(body.get("redriveCount", 0)),
                                               "max_concurrency": settings.get("max_concurrency"),
                                               "tolerated_failure_percentage": settings.get("tolerated_failure_percentage"),
                                               "tolerated_failure_count": settings.get("tolerated_failure_count")})
    if changes.progress:
        db.executemany(q["map_run_progress"], changes.progress)
    if changes.written:
        db.executemany(q["map_run_results_written"], changes.written)
    for arn, _event_id, previous, kind, timestamp, details in changes.events:
        if kind in ("MapRunSucceeded", "MapRunFailed"):
            run_arn = _running_map_run(db, q, arn, previous)
            if run_arn is None:
                continue
            if kind == "MapRunSucceeded":
                db.execute(q["map_run_succeeded"], {"arn": run_arn, "stop_ms": timestamp})
            else:
                body = json.loads(details) if details else {}
                db.execute(q["map_run_failed"], {"arn": run_arn, "stop_ms": timestamp,
                                                 "error": jsontext.storable(body.get("error")),
                                                 "cause": jsontext.storable(body.get("cause"))})
    if changes.aborted:
        db.executemany(q["map_run_aborted"], changes.aborted)
    children.add(changes.children)
    if changes.ended:  # stopped, timed out or failed (another Parallel branch) while a Map Run still ran
        db.executemany(q["map_run_abort_of_execution"], changes.ended)
        children.write(db, q)  # what the batch did to them so far comes first
        db.executemany(q["map_run_children_aborted"], changes.ended)


# A child's row, as `map_run_children_started_as_any` inserts it under its Map Run and attempt: (idx,
# item_count, status, start_ms, stop_ms, input, output, redrive_count, redrive_ms, error, cause); the first
# `_PLAIN` of them are what `map_run_children_started` takes, for a row with nothing in the others.
_STATUS, _STOP_MS, _OUTPUT, _REDRIVE_COUNT, _REDRIVE_MS, _ERROR, _CAUSE = 2, 4, 6, 7, 8, 9, 10
_PLAIN = 7
_ENDED = frozenset(("SUCCEEDED", "FAILED", "ABORTED"))
# How many rows one statement takes (`_in_chunks`): a few sizes, so that few statements are prepared.
_CHUNKS = (4, 16, 64)


class ChildRows:
    """What a batch of rounds does to the rows of Map Runs' child executions, written as its net effect in
    few statements. A child that starts in the batch is inserted as the batch leaves it — most children
    start and end a round or two apart, so one row stands for both — and rows stored before are updated
    in order. The rows of one Map Run's children that start, or only end, go in statements of many rows
    each (`_in_chunks`), with as few columns as they need: executemany would run a statement for each row,
    and Python's sqlite3 gives up the GIL each time, which costs the writer a wait to get it back while
    the decider is busy."""

    def __init__(self) -> None:
        self.inserted: dict[tuple[str, int, int], list[Any]] = {}  # (Map Run, attempt, index) -> its row
        self.express: dict[str, bool] = {}  # whether a Map Run's children are EXPRESS
        self.updated: list[ChildExecutionChanged] = []

    def add(self, changes: Iterable[ChildExecutionChanged]) -> None:
        inserted = self.inserted
        for change in changes:
            key = (change.map_run_arn, change.attempt, change.index)
            row = inserted.get(key)
            if row is not None:
                _apply(row, change)
            elif change.status == "RUNNING" and not change.redriven:
                inserted[key] = [change.index, change.item_count, "RUNNING", change.at_ms, None,
                                 jsontext.storable(change.input), None, 0, None, None, None]
                self.express[change.map_run_arn] = change.express
            else:
                self.updated.append(change)

    def write(self, db: sqlite3.Connection, q: Mapping[str, str]) -> None:
        """Write what was added, in the batch's transaction (a child whose Map Run has no row has none)."""
        plain: dict[tuple[str, int], list[list[Any]]] = collections.defaultdict(list)
        other: dict[tuple[str, int], list[list[Any]]] = collections.defaultdict(list)
        for (map_run_arn, attempt, _), row in self.inserted.items():
            if row[_REDRIVE_COUNT] == 0 and row[_ERROR] is None and row[_CAUSE] is None:
                plain[(map_run_arn, attempt)].append(row[:_PLAIN])
            else:
                other[(map_run_arn, attempt)].append(row)
        for query, started in (("map_run_children_started", plain), ("map_run_children_started_as_any", other)):
            for (map_run_arn, attempt), rows in started.items():
                _in_chunks(db, q[query], (map_run_arn, attempt, int(self.express[map_run_arn])), rows)
        # A child's changes come in order (it may wait for its redrive, be redriven and end again in one
        # batch); one that only ended is one of many: those are written at once.
        times = collections.Counter((c.map_run_arn, c.attempt, c.index) for c in self.updated)
        ended: dict[str, list[tuple[Any, ...]]] = collections.defaultdict(list)
        changes: list[ChildExecutionChanged] = []
        for c in self.updated:
            if c.status in _ENDED and times[(c.map_run_arn, c.attempt, c.index)] == 1:
                ended[c.map_run_arn].append((c.attempt, c.index, c.status, c.at_ms, jsontext.storable(c.output),
                                             jsontext.storable(c.error), jsontext.storable(c.cause)))
            else:
                changes.append(c)
        for map_run_arn, ends in ended.items():
            _in_chunks(db, q["map_run_children_ended"], (map_run_arn,), ends)
        for query, group in itertools.groupby(changes, _update_query):
            db.executemany(q[query], [_update_params(c) for c in group])
        self.inserted.clear()
        self.express.clear()
        self.updated.clear()


def write_child_history(db: sqlite3.Connection, q: Mapping[str, str],
                        chunks: Sequence[tuple[str, int, int, int, str]]) -> None:
    """Store chunks of child executions' histories — (Map Run, the child's index, last event id, first event
    id, events) — in the batch's transaction, a Map Run's in statements of many rows each, as their rows are
    (`ChildRows`). A chunk of a Map Run that has no row is not stored (nor is that child's row)."""
    by_run: dict[str, list[tuple[int, int, int, str]]] = collections.defaultdict(list)
    for map_run_arn, index, last_id, first_id, events in chunks:
        by_run[map_run_arn].append((index, last_id, first_id, events))
    for map_run_arn, rows in by_run.items():
        _in_chunks(db, q["map_run_child_history_insert"], (map_run_arn,), rows)


def _in_chunks(db: sqlite3.Connection, query: str, first: Sequence[Any], rows: Sequence[Sequence[Any]]) -> None:
    """Run `query`, which takes the parameters `first`, then a row in its `VALUES (?, …)`, for all `rows`,
    many at a time: in as few statements as `_CHUNKS` allow, the last made up to its size with copies of its
    last row (an INSERT OR IGNORE or an UPDATE does nothing more for them)."""
    at = 0
    while at < len(rows):
        size = next((size for size in _CHUNKS if size >= len(rows) - at), _CHUNKS[-1])
        chunk: list[Sequence[Any]] = list(rows[at:at + size])
        chunk += [chunk[-1]] * (size - len(chunk))
        db.execute(_many_rows(query, size), [*first, *itertools.chain.from_iterable(chunk)])
        at += size


_VALUES_ROW = re.compile(r"VALUES (\([?, ]+\))")


@functools.cache
def _many_rows(query: str, rows: int) -> str:
    """`query` with its `VALUES (?, …)` row repeated: it takes `rows` rows."""
    match = _VALUES_ROW.search(query)
    assert match is not None, "a query of many rows has a VALUES row"
    return f"{query[:match.start(1)]}{', '.join([match.group(1)] * rows)}{query[match.end(1):]}"


def _apply(row: list[Any], change: ChildExecutionChanged) -> None:
    """A change to the row of a child that started in the same batch, as `_update_query`'s statement makes it."""
    if change.status == "PENDING_REDRIVE":
        row[_STATUS] = "PENDING_REDRIVE"
    elif change.status == "RUNNING":
        if change.redriven:  # (a second start of the same child is ignored, as its INSERT would be)
            row[_STATUS] = "RUNNING"
            row[_STOP_MS] = row[_OUTPUT] = row[_ERROR] = row[_CAUSE] = None
            row[_REDRIVE_COUNT] += 1
            row[_REDRIVE_MS] = change.at_ms
    else:
        row[_STATUS], row[_STOP_MS], row[_OUTPUT] = change.status, change.at_ms, jsontext.storable(change.output)
        if change.error is not None:
            row[_ERROR] = jsontext.storable(change.error)
        if change.cause is not None:
            row[_CAUSE] = jsontext.storable(change.cause)


def _update_query(change: ChildExecutionChanged) -> str:
    if change.status == "PENDING_REDRIVE":
        return "map_run_child_waiting"
    return "map_run_child_redriven" if change.status == "RUNNING" else "map_run_child_ended"


def _update_params(change: ChildExecutionChanged) -> tuple[Any, ...]:
    key = (change.map_run_arn, change.attempt, change.index)
    if change.status == "PENDING_REDRIVE":
        return key
    if change.status == "RUNNING":
        return *key, change.at_ms
    return (*key, change.status, change.at_ms, jsontext.storable(change.output), jsontext.storable(change.error),
            jsontext.storable(change.cause))


def _distributed_joins(snapshots: Mapping[str, interpreter.Snapshot]
                       ) -> Iterable[tuple[str, interpreter.Join, interpreter.Frame]]:
    """Every running distributed Map whose MapRunStarted is in the history (its frame's `prev` is that id).
    A frame cut short (`done`) and kept for a redrive holds the join of a Map Run that has ended."""
    for arn, snap in snapshots.items():
        for frame in snap.frames.values():
            join = frame.join
            if join is not None and join.distributed and not frame.silent and not frame.done:
                yield arn, join, frame


def _started(db: sqlite3.Connection, q: Mapping[str, str], arn: str, event_id: int, previous: int,
             timestamp: int, details: str | None, by_id: Mapping[tuple[str, int], EventRow],
             settings: dict[str, Any] | None) -> None:
    map_run_arn = json.loads(details or "{}").get("mapRunArn")
    if not map_run_arn:
        return
    # MapStateStarted {length} comes right before MapRunStarted, normally in the same commit.
    started = by_id.get((arn, previous))
    started_details = started[5] if started is not None else db.execute(
        q["map_run_state_started_length"], {"execution_arn": arn, "id": previous}).fetchone()
    if isinstance(started_details, sqlite3.Row):
        started_details = started_details[0]
    total = int(json.loads(started_details or "{}").get("length", 0))
    settings = settings or {"max_concurrency": 0, "tolerated_failure_percentage": 0.0,
                            "tolerated_failure_count": 0}
    db.execute(q["map_run_insert"], {"arn": map_run_arn, "execution_arn": arn, "started_event_id": event_id,
                                     "start_ms": timestamp, "total": total, **settings,
                                     "child_names": child_names.name_prefix(map_run_arn)})


def _running_map_run(db: sqlite3.Connection, q: Mapping[str, str], arn: str, previous: int) -> str | None:
    """The Map Run a MapRunSucceeded/Failed event ends: the one it chains to, else the newest running."""
    rows = db.execute(q["map_run_running_of"], {"execution_arn": arn}).fetchall()
    for row in rows:
        if row["started_event_id"] == previous:
            return str(row["arn"])
    return str(rows[0]["arn"]) if rows else None


# ---- reads for the API ----------------------------------------------------------------------


def _ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


def check_map_run_arn(arn: str) -> None:
    parts = arns.split(arn)
    if len(parts) != 8 or parts[5] != "mapRun" or "/" not in parts[6]:
        raise api.InvalidArn(f"Invalid Arn: '{arn}'")


def describe_map_run(store: SqliteStore, arn: str) -> dict[str, Any]:
    """DescribeMapRun's response."""
    check_map_run_arn(arn)
    row = store.one("map_run_get", {"arn": arn})
    if row is None:
        raise api.ResourceNotFound(f"Resource not found: '{arn}'")
    # timedOut stays 0: no child execution here has a timeout of its own (see docs/api.md).
    counts = {"pending": row["pending"], "running": row["running"], "succeeded": row["succeeded"],
              "failed": row["failed"], "timedOut": 0, "aborted": row["aborted"], "total": row["total"],
              "resultsWritten": row["results_written"], "failuresNotRedrivable": row["failures_not_redrivable"],
              "pendingRedrive": row["pending_redrive"]}
    executions = dict(counts)
    if row["executions"] is not None:  # batched: its child executions, each of a batch of items
        executions.update(_ended(json.loads(row["executions"]), row["status"]))
    out: dict[str, Any] = {
        "mapRunArn": row["arn"], "executionArn": row["execution_arn"], "status": row["status"],
        "startDate": _ms(row["start_ms"]), "maxConcurrency": row["max_concurrency"],
        "toleratedFailurePercentage": row["tolerated_failure_percentage"],
        "toleratedFailureCount": row["tolerated_failure_count"],
        "itemCounts": counts, "executionCounts": executions, "redriveCount": row["redrive_count"],
    }
    if row["redrive_ms"] is not None:
        out["redriveDate"] = _ms(row["redrive_ms"])
    if row["stop_ms"] is not None:
        out["stopDate"] = _ms(row["stop_ms"])
    return out


def _ended(progress: dict[str, int], status: str) -> dict[str, int]:
    """The counts of a Map Run's last progress as its status leaves them: what the `map_run_*` queries
    do to its item counts when it ends (`map_runs.sql`), done here to the counts of its executions."""
    total, succeeded, failed, running = (progress[k] for k in ("total", "succeeded", "failed", "running"))
    waiting = progress.get("pending_redrive", 0)
    left = max(0, total - succeeded - failed)
    counts = {"total": total, "succeeded": succeeded, "failed": failed, "running": running, "aborted": 0,
              "pending": max(0, left - running - waiting), "pendingRedrive": waiting,
              "failuresNotRedrivable": progress.get("failures_not_redrivable", 0)}
    if status == "SUCCEEDED":
        counts.update(succeeded=total - failed, running=0, pending=0, pendingRedrive=0)
    elif status in ("FAILED", "ABORTED"):
        counts.update(aborted=left, running=0, pending=0, pendingRedrive=0)
    return counts


def list_map_runs(store: SqliteStore, tokens: paging.PageTokens, execution_arn: str, *,
                  max_results: int = 100, next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """ListMapRuns: the execution's Map Runs, newest first, a page at a time."""
    parts = arns.split(execution_arn)
    if len(parts) != 8 or parts[5] not in ("execution", "express"):
        raise api.InvalidArn(f"Invalid Arn: '{execution_arn}'")
    if store.one("get_execution", {"arn": execution_arn}) is None:
        raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
    before_ms, before_arn = 2**62, "\uffff"
    if next_token:
        before_ms, before_arn = tokens.start_position(next_token)
    rows = store.all("map_runs_of_execution", {"execution_arn": execution_arn, "before_ms": before_ms,
                                               "before_arn": before_arn, "limit": max_results + 1})
    token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        token = tokens.token([rows[-1]["start_ms"], rows[-1]["arn"]])
    items = []
    for r in rows:
        item: dict[str, Any] = {"executionArn": r["execution_arn"], "mapRunArn": r["arn"],
                                "stateMachineArn": child_names.child_state_machine_arn(r["arn"]),
                                "startDate": _ms(r["start_ms"])}
        if r["stop_ms"] is not None:
            item["stopDate"] = _ms(r["stop_ms"])
        items.append(item)
    return items, token


# ---- child executions (ListExecutions of a Map Run, DescribeExecution of a child) -------------


def is_child_execution_arn(arn: str) -> bool:
    """Whether an execution ARN names a Map Run's child execution: its state machine part is the Map Run's,
    `MACHINE/LABEL` (a state machine's own name has no `/`)."""
    parts = arns.split(arn)
    return len(parts) >= 8 and parts[5] in ("execution", "express") and "/" in parts[6]


@dataclass(frozen=True)
class ChildExecution:
    """A Map Run's child execution as stored: its key (`map_run_children`) and its row."""

    map_run_arn: str
    attempt: int
    index: int
    express: bool
    row: Mapping[str, Any]


def child_execution(store: SqliteStore, arn: str) -> ChildExecution | None:
    """The Map Run's child execution of that ARN, or None if there is none."""
    key = _child_key(store, arn)
    if key is None:
        return None
    map_run_arn, attempt, index, express = key
    row = store.one("map_run_child_get", {"map_run_arn": map_run_arn, "attempt": attempt, "idx": index})
    if row is None or bool(row["express"]) != express:
        return None
    return ChildExecution(map_run_arn, attempt, index, express, row)


def describe_child_execution(store: SqliteStore, arn: str, now: int) -> dict[str, Any] | None:
    """DescribeExecution's response for a Map Run's child execution, or None if there is none of that ARN."""
    found = child_execution(store, arn)
    if found is None:
        return None
    map_run_arn, express, row = found.map_run_arn, found.express, found.row
    out: dict[str, Any] = {
        "executionArn": arn, "stateMachineArn": child_names.child_state_machine_arn(map_run_arn),
        "name": arns.split(arn)[7], "status": row["status"], "startDate": _ms(row["start_ms"]),
        "input": row["input"], "inputDetails": {"included": True}, "mapRunArn": map_run_arn,
    }
    if row["stop_ms"] is not None:
        out["stopDate"] = _ms(row["stop_ms"])
    if row["output"] is not None:
        out["output"] = row["output"]
        out["outputDetails"] = {"included": True}
    for field_name in ("error", "cause"):
        if row[field_name] is not None:
            out[field_name] = row[field_name]
    if not express:  # Express executions cannot be redriven: no count, no status
        out["redriveCount"] = row["redrive_count"]
        if row["redrive_ms"] is not None:
            out["redriveDate"] = _ms(row["redrive_ms"])
        out.update(_child_redrive_status(row, now))
    return out


def _child_key(store: SqliteStore, arn: str) -> tuple[str, int, int, bool] | None:
    """What a child execution's ARN is made from (`child_names`): its Map Run, attempt and index, and whether it
    is EXPRESS — or None if no Map Run here names a child so. An EXPRESS child's ARN ends in its Map Run's
    UUID; a STANDARD child's Map Run is the one whose children's names start as this one's does."""
    parts = arns.split(arn)
    express = len(parts) == 9 and parts[5] == "express"
    if not express and not (len(parts) == 8 and parts[5] == "execution"):
        return None
    name = parts[7]
    index = child_names.name_index(name)
    if index is None:
        return None
    prefix = name[:child_names.NAME_PREFIX_LENGTH]
    candidates: list[tuple[str, range]] = []
    if express:  # started by the Map Run's first attempt or one of its redrives
        map_run_arn = ":".join([*parts[:5], "mapRun", parts[6], parts[8]])
        run = store.one("map_run_get", {"arn": map_run_arn})
        if run is not None:
            candidates.append((map_run_arn, range(run["redrive_count"] + 1)))
    else:
        found = store.all("map_run_of_child_names", {"prefix": prefix})
        if not found:  # a Map Run stored before it kept what its children's names start with: each is tried
            before = ":".join([*parts[:5], "mapRun", parts[6], ""])
            found = store.all("map_runs_without_child_names", {"after": before, "before": before + "\uffff"})
        candidates = [(run["arn"], range(1)) for run in found]
    for map_run_arn, attempts in candidates:
        for attempt in attempts:
            if child_names.name_prefix(map_run_arn, attempt) == prefix \
                    and child_names.child_execution_arn(map_run_arn, name, express) == arn:
                return map_run_arn, attempt, index, express
    return None


def _child_redrive_status(row: Mapping[str, Any], now: int) -> dict[str, str]:
    """A Standard child execution is redriven with its Map Run, not by RedriveExecution: one that did not
    succeed is REDRIVABLE_BY_MAP_RUN within its redrivable period (14 days from its end)."""
    status = row["status"]
    if status not in frames.REDRIVABLE_STATUSES:
        reason = f"Execution is {status} and cannot be redriven"
    elif row["stop_ms"] is not None and now - row["stop_ms"] > frames.REDRIVABLE_PERIOD_MS:
        reason = "Execution redrivable period exceeded"
    else:
        return {"redriveStatus": "REDRIVABLE_BY_MAP_RUN"}
    return {"redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}


def list_child_executions(store: SqliteStore, tokens: paging.PageTokens, map_run_arn: str, *,
                          status: str | None = None, redrive_filter: str | None = None, max_results: int = 100,
                          next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """ListExecutions of a Map Run: its child executions, newest first, a page at a time, as AWS lists them
    (with `mapRunArn` and `itemCount`, and the Map Run's own state machine)."""
    before_ms, before_attempt, before_index = 2**62, 2**62, 2**62
    if next_token:  # where the last page ended: (start ms, attempt, index)
        before_ms, before_attempt, before_index = tokens.key_position(next_token, 3)
    rows = store.all("map_run_children_page", {
        "map_run_arn": map_run_arn, "before_ms": before_ms, "before_attempt": before_attempt,
        "before_idx": before_index, "status": status,
        "redriven": None if redrive_filter is None else int(redrive_filter == "REDRIVEN"), "limit": max_results + 1})
    token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        token = tokens.token([rows[-1]["start_ms"], rows[-1]["attempt"], rows[-1]["idx"]])
    machine = child_names.child_state_machine_arn(map_run_arn)
    items = []
    for r in rows:
        name = child_names.child_execution_name(map_run_arn, r["idx"], r["attempt"])
        item: dict[str, Any] = {
            "executionArn": child_names.child_execution_arn(map_run_arn, name, bool(r["express"])),
            "stateMachineArn": machine, "name": name, "status": r["status"], "startDate": _ms(r["start_ms"]),
            "mapRunArn": map_run_arn, "itemCount": r["item_count"]}
        if r["stop_ms"] is not None:
            item["stopDate"] = _ms(r["stop_ms"])
        if r["redrive_count"]:
            item["redriveCount"] = r["redrive_count"]
            item["redriveDate"] = _ms(r["redrive_ms"])
        items.append(item)
    return items, token


def child_results(store: SqliteStore, map_run_arn: str) -> Iterator[Any]:
    """A Map Run's child executions as its ResultWriter writes them (`result_writer.ChildResult`), in order of
    index: each index's latest attempt, from the rows the engine keeps of them, read as they are needed."""
    from stateway.workers.result_writer import ChildResult

    machine = child_names.child_state_machine_arn(map_run_arn)
    rows = store.reader.execute(store.q["map_run_children_results"], {"arn": map_run_arn})
    # In order of index, then attempt: an index's last row is its latest attempt.
    for index, attempts in itertools.groupby(rows, key=lambda row: row["idx"]):
        row = collections.deque(attempts, maxlen=1)[0]
        name = child_names.child_execution_name(map_run_arn, index, row["attempt"])
        yield ChildResult(index, name, child_names.child_execution_arn(map_run_arn, name, bool(row["express"])),
                          machine, row["status"], row["start_ms"], row["stop_ms"], row["input"],
                          row["output"], row["error"], row["cause"], row["redrive_count"])


def child_state_machine(store: SqliteStore, map_run_arn: str) -> dict[str, Any]:
    """What DescribeStateMachineForExecution answers of the state machine a Map Run's child executions run, as
    AWS names it (`…:stateMachine:MACHINE/LABEL`): its definition is the Map state's ItemProcessor as a state
    machine of its own (its `StartAt` and `States`, without `ProcessorConfig`, and the parent machine's
    `QueryLanguage` if the processor sets none), found in the definition the parent execution ran; with the
    Map Run's ARN and label. `executionArn`: the parent's, whose answer gives the rest."""
    row = store.one("map_run_of_state", {"arn": map_run_arn})
    assert row is not None, "a child execution's Map Run has a row"
    machine_arn = child_names.child_state_machine_arn(map_run_arn)
    name = arns.split(machine_arn)[6]
    label = name.split("/", 1)[1]
    text = store.one("execution_definition", {"arn": row["execution_arn"]})
    definition = json.loads(text["definition"]) if text is not None else {}
    # A Map's Label names its Map Runs; a Map without one is found from the parent's history: the Map Run's
    # first event (MapRunStarted, or MapRunRedriven) follows MapStateStarted, which follows MapStateEntered.
    state = _find_state(definition, lambda _name, body: body.get("Label") == label)
    if state is None:
        entered = _event(store, row["execution_arn"], row["started_event_id"], back=2)
        entered_name = (entered[4] or {}).get("name") if entered is not None else None
        state = _find_state(definition, lambda state_name, _body: state_name == entered_name)
    processor = (state or {}).get("ItemProcessor") or (state or {}).get("Iterator") or {}
    machine = {key: value for key, value in processor.items() if key != "ProcessorConfig"}
    if "QueryLanguage" in definition and "QueryLanguage" not in machine:
        machine = {"QueryLanguage": definition["QueryLanguage"], **machine}
    return {"executionArn": row["execution_arn"], "stateMachineArn": machine_arn, "name": name,
            "definition": json.dumps(machine, ensure_ascii=False), "label": label, "mapRunArn": map_run_arn}


def _find_state(container: Mapping[str, Any], match: Callable[[str, Mapping[str, Any]], bool]
                ) -> Mapping[str, Any] | None:
    """The first state, at any depth (Parallel branches, Map processors), for which `match(name, state)` holds."""
    states = container.get("States")
    for name, state in states.items() if isinstance(states, dict) else ():
        if not isinstance(state, dict):
            continue
        if match(name, state):
            return state
        inner = [*(state.get("Branches") or ()), state.get("ItemProcessor"), state.get("Iterator")]
        for program in inner:
            found = _find_state(program, match) if isinstance(program, dict) else None
            if found is not None:
                return found
    return None


def _event(store: SqliteStore, execution_arn: str, event_id: int, *, back: int = 0) -> list[Any] | None:
    """The stored event `event_id` of an execution's history, or the one `back` steps up its chain of
    previous events, as `[id, previous id, type, timestamp, details]`."""
    event = None
    for _ in range(back + 1):
        chunk = store.one("history_chunk_holding", {"arn": execution_arn, "id": event_id})
        found = next((e for e in json.loads(chunk["events"]) if e[0] == event_id), None) if chunk else None
        if found is None:
            return None
        event, event_id = found, found[1]
    return event
