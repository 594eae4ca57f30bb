-- The bulk data of Parallel and Map joins (each child's input and result, and a Map's input), kept
-- apart from the execution snapshot so that a step of a large Map rewrites only what changed.
CREATE TABLE join_data (
    execution_arn  TEXT NOT NULL,
    join_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,  -- 'item' | 'result' | 'source'
    idx            INTEGER NOT NULL,
    value          TEXT NOT NULL,  -- JSON
    PRIMARY KEY (execution_arn, join_id, kind, idx)
) WITHOUT ROWID;
