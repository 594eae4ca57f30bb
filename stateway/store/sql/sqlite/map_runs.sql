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
