-- Tokens of tasks that are gone (answered, timed out, or their execution ended), so that a late
-- SendTaskSuccess/Failure/Heartbeat gets AWS's TaskTimedOut instead of TaskDoesNotExist.
CREATE TABLE task_tombstones (
    token       TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL
) WITHOUT ROWID;
