-- Named queries for Map Runs (the map_runs table): written in the engine's commit, read by the API.

-- name: map_run_insert
INSERT OR IGNORE INTO map_runs (arn, execution_arn, started_event_id, status, start_ms, max_concurrency,
                                tolerated_failure_percentage, tolerated_failure_count, total, pending)
VALUES (:arn, :execution_arn, :started_event_id, 'RUNNING', :start_ms, :max_concurrency,
        :tolerated_failure_percentage, :tolerated_failure_count, :total, :total);

-- name: map_run_redriven
-- The Map Run runs again from where it failed: what did not succeed is pending; the redrive's event
-- is now the one its progress and its end chain to.
UPDATE map_runs SET status = 'RUNNING', started_event_id = :started_event_id, stop_ms = NULL, error = NULL,
       cause = NULL, redrive_count = :redrive_count, redrive_ms = :redrive_ms, failed = 0, aborted = 0,
       running = 0, pending = total - succeeded, pending_redrive = 0,
       max_concurrency = COALESCE(:max_concurrency, max_concurrency),
       tolerated_failure_percentage = COALESCE(:tolerated_failure_percentage, tolerated_failure_percentage),
       tolerated_failure_count = COALESCE(:tolerated_failure_count, tolerated_failure_count)
WHERE arn = :arn AND execution_arn = :execution_arn;

-- name: map_run_progress
-- `pending`: the children that never ran; those that ran before and wait to run again are `pending_redrive`.
UPDATE map_runs SET succeeded = :succeeded, failed = :failed, running = :running,
       pending = MAX(0, total - :succeeded - :failed - :running - :pending_redrive), executions = :executions,
       pending_redrive = :pending_redrive, failures_not_redrivable = :failures_not_redrivable
WHERE execution_arn = :execution_arn AND started_event_id = :started_event_id AND status = 'RUNNING';

-- name: map_run_update
-- UpdateMapRun: the settings it gives (NULL: as they were), for a Map Run that still runs.
UPDATE map_runs SET max_concurrency = COALESCE(:max_concurrency, max_concurrency),
       tolerated_failure_percentage = COALESCE(:tolerated_failure_percentage, tolerated_failure_percentage),
       tolerated_failure_count = COALESCE(:tolerated_failure_count, tolerated_failure_count)
WHERE arn = :arn AND status = 'RUNNING';

-- name: map_run_running_of
SELECT arn, started_event_id FROM map_runs
WHERE execution_arn = :execution_arn AND status = 'RUNNING' ORDER BY started_event_id DESC;

-- name: map_run_succeeded
UPDATE map_runs SET status = 'SUCCEEDED', stop_ms = :stop_ms, succeeded = total - failed, running = 0,
       pending = 0, pending_redrive = 0
WHERE arn = :arn AND status = 'RUNNING';

-- name: map_run_failed
UPDATE map_runs SET status = 'FAILED', stop_ms = :stop_ms, error = :error, cause = :cause,
       aborted = MAX(0, total - succeeded - failed), running = 0, pending = 0, pending_redrive = 0
WHERE arn = :arn AND status = 'RUNNING';

-- name: map_run_aborted
UPDATE map_runs SET status = 'ABORTED', stop_ms = :stop_ms, aborted = MAX(0, total - succeeded - failed),
       running = 0, pending = 0, pending_redrive = 0
WHERE execution_arn = :execution_arn AND started_event_id = :started_event_id AND status = 'RUNNING';

-- name: map_run_abort_of_execution
UPDATE map_runs SET status = 'ABORTED', stop_ms = :stop_ms, aborted = total - succeeded - failed,
       running = 0, pending = 0, pending_redrive = 0
WHERE execution_arn = :execution_arn AND status = 'RUNNING';

-- name: map_run_state_started_length
SELECT details FROM history_events WHERE execution_arn = :execution_arn AND id = :id;

-- name: map_run_get
SELECT arn, execution_arn, status, start_ms, stop_ms, max_concurrency, tolerated_failure_percentage,
       tolerated_failure_count, total, pending, running, succeeded, failed, aborted, error, cause, executions,
       redrive_count, redrive_ms, pending_redrive, failures_not_redrivable
FROM map_runs WHERE arn = :arn;

-- name: map_runs_of_execution
SELECT arn, execution_arn, start_ms, stop_ms FROM map_runs
WHERE execution_arn = :execution_arn
  AND (start_ms < :before_ms OR (start_ms = :before_ms AND arn < :before_arn))
ORDER BY start_ms DESC, arn DESC LIMIT :limit;

-- name: map_run_child_started
INSERT OR IGNORE INTO map_run_children (arn, map_run_arn, execution_arn, idx, item_count, status, start_ms, input)
VALUES (:arn, :map_run_arn, :execution_arn, :idx, :item_count, 'RUNNING', :at_ms, :input);

-- name: map_run_child_ended
UPDATE map_run_children SET status = :status, stop_ms = :at_ms, output = :output,
       error = COALESCE(:error, error), cause = COALESCE(:cause, cause)
WHERE arn = :arn;

-- name: map_run_child_waiting
-- A redriven Map Run's child execution that did not succeed before waits for its turn to run again.
UPDATE map_run_children SET status = 'PENDING_REDRIVE' WHERE arn = :arn;

-- name: map_run_child_redriven
-- Running again from where it stopped, under the same ARN: its stop and what it ended with are cleared.
UPDATE map_run_children SET status = 'RUNNING', stop_ms = NULL, output = NULL, error = NULL, cause = NULL,
       redrive_count = redrive_count + 1, redrive_ms = :at_ms
WHERE arn = :arn;

-- name: map_run_children_aborted
-- A Map Run ended (failed, aborted or succeeded) with children still waiting to be redriven: as AWS counts
-- them, aborted; or the parent execution ended (stopped, timed out, failed) with children unfinished.
UPDATE map_run_children SET status = 'ABORTED', stop_ms = CASE WHEN status = 'RUNNING' THEN :stop_ms ELSE stop_ms END
WHERE execution_arn = :execution_arn AND status IN ('RUNNING', 'PENDING_REDRIVE')
  AND (:map_run_arn IS NULL OR map_run_arn = :map_run_arn);

-- name: map_run_child_get
SELECT c.arn, c.map_run_arn, c.execution_arn, c.idx, c.item_count, c.status, c.start_ms, c.stop_ms, c.input,
       c.output, c.error, c.cause, c.redrive_count, c.redrive_ms, m.status AS map_run_status
FROM map_run_children c JOIN map_runs m ON m.arn = c.map_run_arn WHERE c.arn = :arn;

-- name: map_run_children_page
-- ListExecutions of a Map Run: newest first, from a position, with an optional status and redrive filter.
SELECT arn, map_run_arn, item_count, status, start_ms, stop_ms, redrive_count, redrive_ms
FROM map_run_children
WHERE map_run_arn = :map_run_arn
  AND (start_ms < :before_ms OR (start_ms = :before_ms AND arn < :before_arn))
  AND (:status IS NULL OR status = :status)
  AND (:redriven IS NULL OR (redrive_count > 0) = :redriven)
ORDER BY start_ms DESC, arn DESC LIMIT :limit;
