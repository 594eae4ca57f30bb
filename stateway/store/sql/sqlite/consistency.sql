-- Named queries for the check at startup that each running execution's rows fit its snapshot
-- (engine/consistency.py).

-- name: running_outlines
SELECT arn, snapshot, (SELECT MAX(last_id) FROM history_chunks WHERE execution_arn = executions.arn) AS last_event_id
FROM executions WHERE status = 'RUNNING';

-- name: all_task_ids
SELECT execution_arn, id FROM tasks;

-- name: all_timer_ids
SELECT execution_arn, id FROM timers;

-- name: all_frame_ids
SELECT execution_arn, frame_id FROM frames;

-- name: join_has_source
SELECT 1 FROM join_data WHERE execution_arn = :arn AND join_id = :join_id AND kind = 'source' AND idx = 0;

-- name: join_has_item
-- A row holding child `index`'s input: runs of inputs start at most ITEMS_PER_ROW - 1 before it.
SELECT 1 FROM join_data
WHERE execution_arn = :arn AND join_id = :join_id AND kind IN ('item', 'items') AND idx BETWEEN :first AND :index
LIMIT 1;
