-- The redrive sweep (`engine/sweep.py`). The expression is the index's (migration 0018), word for word:
-- SQLite uses an expression index only for the same expression. It is `service.redrivable_until_ms`, or the
-- execution's stop when that is later (an execution timed out at its year).

-- name: sweepable_executions
-- The next executions, after the cursor, whose redrivable moment has passed, oldest first.
SELECT arn, max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)) AS until_ms FROM executions
WHERE status IN ('FAILED', 'ABORTED', 'TIMED_OUT')
  AND max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)) >= :after_ms
  AND max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)) < :now
  AND (max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)) > :after_ms OR arn > :after_arn)
ORDER BY max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)), arn
LIMIT :limit;

-- name: redrivable_until
-- What the index holds for one execution (a test compares it with `sweep.sweepable_after_ms`).
SELECT max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)) FROM executions WHERE arn = :arn;

-- name: delete_frames_of_execution
DELETE FROM frames WHERE execution_arn = ?;

-- name: clear_snapshot
-- The snapshot of an ended execution is read only to redrive it. Its status, output, error and cause, which
-- DescribeExecution answers, are columns of their own, and its history is in `history_chunks`.
UPDATE executions SET snapshot = NULL WHERE arn = ?;

-- name: put_setting
INSERT INTO settings (name, value) VALUES (:name, :value) ON CONFLICT (name) DO UPDATE SET value = excluded.value;
