-- Named queries for what an execution's snapshot keeps apart: its frames (table `frames`) and the
-- reads of its joins' data (table `join_data`) that a step makes.

-- name: put_frame
INSERT OR REPLACE INTO frames (execution_arn, frame_id, body) VALUES (?, ?, ?);

-- name: delete_frame
DELETE FROM frames WHERE execution_arn = ? AND frame_id = ?;

-- name: frames_of_execution
SELECT frame_id, body FROM frames WHERE execution_arn = :arn;

-- name: join_items
SELECT kind, idx, value FROM join_data
WHERE execution_arn = :arn AND join_id = :join_id AND kind IN ('item', 'items') AND idx >= :start AND idx < :stop;

-- name: join_results
-- Rows of (index, result) pairs in the primary key's order, by their first index: no sort.
SELECT idx, value FROM join_data WHERE execution_arn = :arn AND join_id = :join_id AND kind = 'results' ORDER BY idx;

-- name: join_single_results
-- One result per row, as engines wrote them before rows of pairs.
SELECT idx, value FROM join_data WHERE execution_arn = :arn AND join_id = :join_id AND kind = 'result';

-- name: join_source
SELECT value FROM join_data WHERE execution_arn = :arn AND join_id = :join_id AND kind = 'source' AND idx = 0;
