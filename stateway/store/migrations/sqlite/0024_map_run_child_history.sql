-- The histories of Map Runs' STANDARD child executions (GetExecutionHistory of a child's ARN): stored as an
-- execution's history is (history_chunks, 0008/0009) — one row per child per commit, holding the events that
-- commit recorded as a JSON array, appended in the order they are written — but keyed as the children's
-- rows are (map_run_children, 0023): by the Map Run's `id` and the child's index, not by its ARN. A Map of
-- 10,000 items writes ~12,000 of them, and an ARN would be a third of each row and of its index entry.
-- (A STANDARD child is attempt 0 of its Map Run: a redrive continues it under the same name.)
CREATE TABLE map_run_child_history (
    map_run   INTEGER NOT NULL,   -- map_runs.id
    idx       INTEGER NOT NULL,   -- the child's item (or batch) index in the Map Run
    last_id   INTEGER NOT NULL,
    first_id  INTEGER NOT NULL,
    events    TEXT NOT NULL       -- [[id, previous_id, type, timestamp_ms, details object or null], ...]
);
CREATE UNIQUE INDEX map_run_child_history_by_child ON map_run_child_history (map_run, idx, last_id);
