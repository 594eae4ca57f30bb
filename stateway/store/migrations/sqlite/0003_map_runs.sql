-- Map Runs of distributed Maps (DescribeMapRun, ListMapRuns): one row per MapRunStarted history event,
-- written by the engine in the same transaction as the event and updated as the Map Run's items finish.
CREATE TABLE map_runs (
    arn                           TEXT PRIMARY KEY,
    execution_arn                 TEXT NOT NULL,
    started_event_id              INTEGER NOT NULL,  -- the MapRunStarted event's id in the parent's history
    status                        TEXT NOT NULL,     -- RUNNING | SUCCEEDED | FAILED | ABORTED
    start_ms                      INTEGER NOT NULL,
    stop_ms                       INTEGER,
    max_concurrency               INTEGER NOT NULL DEFAULT 0,
    tolerated_failure_percentage  REAL NOT NULL DEFAULT 0,
    tolerated_failure_count       INTEGER NOT NULL DEFAULT 0,
    total                         INTEGER NOT NULL DEFAULT 0,
    pending                       INTEGER NOT NULL DEFAULT 0,
    running                       INTEGER NOT NULL DEFAULT 0,
    succeeded                     INTEGER NOT NULL DEFAULT 0,
    failed                        INTEGER NOT NULL DEFAULT 0,
    aborted                       INTEGER NOT NULL DEFAULT 0,
    error                         TEXT,
    cause                         TEXT
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start_ms);
