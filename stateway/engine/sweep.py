"""The redrive sweep: deletes the frame and join rows and the snapshot an ended execution kept for
RedriveExecution once no redrive can continue it.

A FAILED, ABORTED or TIMED_OUT Standard execution keeps its frames and its joins' data (a redrive re-runs
only the branches and iterations that did not succeed) until `service.redrivable_until_ms`: 14 days after
its stop, or a year after its start, whichever comes first. The sweep walks the executions in the order of
that moment — or of their stop, for one that ended after it (timed out at its year), which a sweep that looked
before the end would otherwise have passed for good (`sweepable_after_ms`) — through an index (migration
0018), from a cursor stored in `settings` in the same transaction as
the deletions, a bounded batch at a time: a restart goes on where it stopped, and each look reads only the
executions whose moment has passed since the last. Their `executions` row (its `snapshot` cleared: only a
redrive reads an ended execution's), history and Map Runs stay.

A redrive and the sweep are serialised by their write transactions: the sweep deletes only executions that
are not RUNNING (a redrive reopens the row first) and whose moment has passed, so a redrive still allowed finds
its rows; one that comes after them is refused — by its own clock, or, should that clock lag behind the
engine's, because the cursor has passed the execution (`swept`).
"""

from __future__ import annotations

import json
from typing import Any

from stateway.store.sqlite import SqliteStore

CURSOR = "redrive_sweep"  # the settings row: [`sweepable_after_ms`, execution ARN] of the last execution swept
BATCH = 100  # executions a transaction
_BEFORE_ALL = (-(2**62), "")


def cursor(db: Any, q: dict[str, str]) -> tuple[int, str]:
    """Where the sweep stopped, read in the caller's transaction."""
    row = db.execute(q["get_setting"], {"name": CURSOR}).fetchone()
    if row is None:
        return _BEFORE_ALL
    until_ms, arn = json.loads(row[0])
    return int(until_ms), str(arn)


def sweepable_after_ms(redrivable_until_ms: int, stop_ms: int) -> int:
    """Where the sweep finds an ended execution (the index's key): its last redrivable moment, or its stop
    if it ended later than that. A sweep reads its clock only after the rounds computed before it are
    stored, so an execution that ends later is never behind the cursor that sweep leaves."""
    return max(stop_ms, redrivable_until_ms)


def swept(db: Any, q: dict[str, str], until_ms: int, arn: str) -> bool:
    """Whether the sweep has passed the execution (its rows are gone), in the caller's transaction."""
    return (until_ms, arn) <= cursor(db, q)


def sweep(store: SqliteStore, now: int, limit: int | None = None) -> int:
    """Delete the kept rows and clear the snapshots of up to `limit` executions that could no longer be
    redriven at `now`, in one write transaction that moves the cursor past them. Returns how many executions
    it swept."""
    q = store.q
    with store.write() as db:
        after_ms, after_arn = cursor(db, q)
        found = db.execute(q["sweepable_executions"], {
            "after_ms": after_ms, "after_arn": after_arn, "now": now, "limit": limit or BATCH}).fetchall()
        if not found:
            return 0
        keys = [(row["arn"],) for row in found]
        db.executemany(q["delete_join_data"], keys)
        db.executemany(q["delete_frames_of_execution"], keys)
        db.executemany(q["clear_snapshot"], keys)
        db.execute(q["put_setting"], {"name": CURSOR, "value": json.dumps([found[-1]["until_ms"], found[-1]["arn"]])})
    return len(found)
