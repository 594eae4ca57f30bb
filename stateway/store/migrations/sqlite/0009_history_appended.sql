-- History chunks in a rowid table, appended in the order they are written: a commit's chunks land
-- together at the end of the table, in a page or two. Keyed by execution ARN (0008), each chunk went
-- to a leaf of its own and, being longer than the ~1 KB a WITHOUT ROWID row keeps in its leaf,
-- spilled into overflow pages: about four pages written per chunk, half of all pages a commit wrote.
-- The unique index keeps the reads by (execution, last event id) as they were.
CREATE TABLE history_chunks_appended (
    execution_arn  TEXT NOT NULL,
    last_id        INTEGER NOT NULL,
    first_id       INTEGER NOT NULL,
    events         TEXT NOT NULL  -- [[id, previous_id, type, timestamp_ms, details object or null], ...]
);

INSERT INTO history_chunks_appended (execution_arn, last_id, first_id, events)
SELECT execution_arn, last_id, first_id, events FROM history_chunks ORDER BY execution_arn, last_id;

DROP VIEW history_events;
DROP TABLE history_chunks;
ALTER TABLE history_chunks_appended RENAME TO history_chunks;
CREATE UNIQUE INDEX history_chunks_by_execution ON history_chunks (execution_arn, last_id);

CREATE VIEW history_events (execution_arn, id, previous_id, type, timestamp_ms, details) AS
SELECT c.execution_arn, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
       json_extract(e.value, '$[2]'), json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]')
FROM history_chunks AS c, json_each(c.events) AS e;
