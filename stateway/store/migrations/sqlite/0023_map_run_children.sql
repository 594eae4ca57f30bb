-- The child executions of Map Runs (ListExecutions with a mapRunArn, DescribeExecution of a child's ARN):
-- one row per child execution, written by the engine in the transaction of the round that starts it,
-- redrives it or ends it. Their events are not stored: they are not in the parent's history.
CREATE TABLE map_run_children (
    arn            TEXT PRIMARY KEY,   -- the child execution's ARN
    map_run_arn    TEXT NOT NULL,
    execution_arn  TEXT NOT NULL,      -- the parent execution
    idx            INTEGER NOT NULL,   -- its item's (or batch's) index in the Map Run
    item_count     INTEGER NOT NULL DEFAULT 1,
    status         TEXT NOT NULL,      -- RUNNING | SUCCEEDED | FAILED | ABORTED | PENDING_REDRIVE
    start_ms       INTEGER NOT NULL,
    stop_ms        INTEGER,
    input          TEXT,
    output         TEXT,
    error          TEXT,
    cause          TEXT,
    redrive_count  INTEGER NOT NULL DEFAULT 0,
    redrive_ms     INTEGER
);
CREATE INDEX map_run_children_by_map_run ON map_run_children (map_run_arn, start_ms, arn);
-- The children an execution's end aborts: only those still running or waiting to be redriven.
CREATE INDEX map_run_children_unfinished ON map_run_children (execution_arn)
    WHERE status IN ('RUNNING', 'PENDING_REDRIVE');
