-- History is written as chunks: one row per execution per commit, holding that commit's events as a
-- JSON array, instead of one row per event (a step records five or more events; every row costs a
-- B-tree insert under a long execution-ARN key). Chunks of one execution never overlap, and are
-- keyed by their last event id so that a page of history starts at the right chunk.
-- The view `history_events` shows one row per event, as before, for ad-hoc queries.
CREATE TABLE history_chunks (
    execution_arn  TEXT NOT NULL,
    last_id        INTEGER NOT NULL,
    first_id       INTEGER NOT NULL,
    events         TEXT NOT NULL,  -- [[id, previous_id, type, timestamp_ms, details object or null], ...]
    PRIMARY KEY (execution_arn, last_id)
) WITHOUT ROWID;

INSERT INTO history_chunks (execution_arn, last_id, first_id, events)
SELECT execution_arn, id, id, json_array(json_array(id, previous_id, type, timestamp_ms, json(details)))
FROM history_events;

DROP TABLE history_events;

CREATE VIEW history_events (execution_arn, id, previous_id, type, timestamp_ms, details) AS
SELECT c.execution_arn, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
       json_extract(e.value, '$[2]'), json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]')
FROM history_chunks AS c, json_each(c.events) AS e;
