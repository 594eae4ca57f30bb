"""The check at startup that each running execution's rows in the store fit its snapshot."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stateway.asl import snapshot
from stateway.engine.join_data import ITEMS_PER_ROW
from stateway.store.sqlite import SqliteStore

# What reading a stored text that is not what `snapshot.dumps` wrote may raise.
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def disagreements(store: SqliteStore) -> dict[str, str]:
    """{execution ARN: what disagrees} for each running execution whose history, tasks, timers, frames or
    joins' rows do not fit its snapshot, or whose snapshot or frames cannot be read. Rows are only read."""
    rows = {kind: _ids(store, f"all_{kind}_ids") for kind in ("task", "timer", "frame")}
    found = {}
    for execution in store.reader.execute(store.q["running_outlines"]):
        arn = execution["arn"]
        stored = {kind: by_execution.get(arn, set()) for kind, by_execution in rows.items()}
        problem = _unstarted(execution["last_event_id"], stored) if execution["snapshot"] is None \
            else _started(store, arn, execution["snapshot"], execution["last_event_id"] or 0, stored)
        if problem is not None:
            found[arn] = problem
    return found


def _ids(store: SqliteStore, query: str) -> dict[str, set[str]]:
    by_execution: dict[str, set[str]] = defaultdict(set)
    for arn, row_id in store.reader.execute(store.q[query]):
        by_execution[arn].add(row_id)
    return by_execution


def _unstarted(last_event_id: int | None, stored: dict[str, set[str]]) -> str | None:
    """An execution stored without its first step holds at most ExecutionStarted (see
    `Engine._record_start`) and no other row."""
    if (last_event_id or 0) > 1:
        return f"it has no snapshot but its history runs to event {last_event_id}"
    kind = next((kind for kind, ids in stored.items() if ids), None)
    return None if kind is None else f"it has no snapshot but {kind} rows {sorted(stored[kind])}"


def _started(store: SqliteStore, arn: str, text: str, last_event_id: int, stored: dict[str, set[str]]) -> str | None:
    try:
        outline = snapshot.outline(text)
    except _UNREADABLE as exc:
        return f"its snapshot cannot be read ({type(exc).__name__}: {exc})"
    if outline.execution_arn != arn:
        return f"its snapshot is that of {outline.execution_arn}"
    if last_event_id != outline.last_event_id:
        return f"its history ends at event {last_event_id}, its snapshot at event {outline.last_event_id}"
    for kind, listed in (("task", outline.tasks), ("timer", outline.timers), ("frame", outline.frame_ids)):
        if missing := listed - stored[kind]:
            return f"{kind} {min(missing)} of its snapshot has no row"
        if extra := stored[kind] - listed:
            return f"{kind} row {min(extra)} is not in its snapshot"
    joins = list(outline.joins)
    if outline.frame_ids:  # read an execution's frames at a time: all of them at once could be large
        for frame in store.reader.execute(store.q["frames_of_execution"], {"arn": arn}):
            try:
                joins += snapshot.frame_joins(frame["body"])
            except _UNREADABLE as exc:
                return f"frame {frame['frame_id']}'s row cannot be read ({type(exc).__name__}: {exc})"
    for join in joins:
        key: dict[str, Any] = {"arn": arn, "join_id": join.join_id}
        if store.scalar("join_has_source", key) is None:
            return f"join {join.join_id} has no row of its input"
        if join.next_child is not None and store.scalar("join_has_item", {
                **key, "first": join.next_child - ITEMS_PER_ROW + 1, "index": join.next_child}) is None:
            return f"join {join.join_id} has no row holding the input of child {join.next_child}, the next to start"
    return None
