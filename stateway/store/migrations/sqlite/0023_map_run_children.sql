-- The child executions of Map Runs (ListExecutions with a mapRunArn, DescribeExecution of a child's ARN):
-- one row per child execution, written by the engine in the transaction of the round that starts it,
-- redrives it or ends it. Their events are not stored: they are not in the parent's history.
--
-- A Map of 10,000 items writes 10,000 rows, so they are keyed by small integers — the Map Run's `id`, the
-- attempt and the item's index — rather than by ARNs: a child's name and ARN are made from its Map Run,
-- attempt and index (stateway/asl/child_names.py), and the API makes them again as it reads a row.
ALTER TABLE map_runs ADD COLUMN id INTEGER;           -- the key of its children's rows
-- What the names of its (first attempt's) children start with: DescribeExecution of a STANDARD child's ARN,
-- which does not name the Map Run, finds it by this (stateway/asl/child_names.py).
ALTER TABLE map_runs ADD COLUMN child_names TEXT;
UPDATE map_runs SET id = rowid;
CREATE UNIQUE INDEX map_runs_by_id ON map_runs (id);
CREATE INDEX map_runs_by_child_names ON map_runs (child_names);
CREATE TABLE map_run_children (
    map_run        INTEGER NOT NULL,   -- map_runs.id
    attempt        INTEGER NOT NULL,   -- 0, or for an EXPRESS child the Map Run's redrive that started it
    idx            INTEGER NOT NULL,   -- its item's (or batch's) index in the Map Run
    express        INTEGER NOT NULL,   -- 1 for an EXPRESS child (its ARN is an Express execution's)
    item_count     INTEGER NOT NULL DEFAULT 1,
    status         TEXT NOT NULL,      -- RUNNING | SUCCEEDED | FAILED | ABORTED | PENDING_REDRIVE
    start_ms       INTEGER NOT NULL,
    stop_ms        INTEGER,
    input          TEXT,
    output         TEXT,
    error          TEXT,
    cause          TEXT,
    redrive_count  INTEGER NOT NULL DEFAULT 0,
    redrive_ms     INTEGER,
    PRIMARY KEY (map_run, attempt, idx)
) WITHOUT ROWID;
-- ListExecutions of a Map Run, newest first: (map_run, start_ms, attempt, idx), as the key is appended.
CREATE INDEX map_run_children_by_start ON map_run_children (map_run, start_ms);
