-- Named queries for Map Runs (the map_runs table): written in the engine's commit, read by the API.

-- name: map_run_insert
-- `id`: the next, as the key of its children's rows (map_run_children); `child_names`: what their names
-- start with, for DescribeExecution of a STANDARD child's ARN, which does not name the Map Run.
INSERT OR IGNORE INTO map_runs (id, arn, execution_arn, started_event_id, status, start_ms, max_concurrency,
                                tolerated_failure_percentage, tolerated_failure_count, total, pending, child_names)
VALUES ((SELECT IFNULL(MAX(id), 0) + 1 FROM map_runs), :arn, :execution_arn, :started_event_id, 'RUNNING',
        :start_ms, :max_concurrency, :tolerated_failure_percentage, :tolerated_failure_count, :total, :total,
        :child_names);

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
-- `total`: how many items, once an ItemReader has read them (NULL: as MapStateStarted said).
UPDATE map_runs SET succeeded = :succeeded, failed = :failed, running = :running, total = COALESCE(:total, total),
       pending = MAX(0, COALESCE(:total, total) - :succeeded - :failed - :running - :pending_redrive),
       executions = :executions,
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
       redrive_count, redrive_ms, pending_redrive, failures_not_redrivable, results_written
FROM map_runs WHERE arn = :arn;

-- name: map_run_of_state
-- The execution that runs a Map Run, and the event of its history that started (or redrove) it.
SELECT execution_arn, started_event_id FROM map_runs WHERE arn = :arn;

-- name: map_runs_of_execution
SELECT arn, execution_arn, start_ms, stop_ms FROM map_runs
WHERE execution_arn = :execution_arn
  AND (start_ms < :before_ms OR (start_ms = :before_ms AND arn < :before_arn))
ORDER BY start_ms DESC, arn DESC LIMIT :limit;

-- name: map_run_children_started
-- Children of one Map Run's attempt that started, as the batch of rounds that started them leaves them
-- (`map_runs.ChildRows`, which repeats the VALUES row to insert many rows in one statement): each row is
-- (idx, item_count, status, start_ms, stop_ms, input, output); they have not been redriven and have no error
-- or cause. A child of a Map Run with no row has none.
INSERT OR IGNORE INTO map_run_children (map_run, attempt, express, idx, item_count, status, start_ms, stop_ms,
                                        input, output)
SELECT (SELECT id FROM map_runs WHERE arn = ?), ?, ?, column1, column2, column3, column4, column5, column6, column7
FROM (VALUES (?, ?, ?, ?, ?, ?, ?));

-- name: map_run_children_started_as_any
-- The same, for rows of any kind: (idx, item_count, status, start_ms, stop_ms, input, output, redrive_count,
-- redrive_ms, error, cause).
INSERT OR IGNORE INTO map_run_children (map_run, attempt, express, idx, item_count, status, start_ms, stop_ms,
                                        input, output, redrive_count, redrive_ms, error, cause)
SELECT (SELECT id FROM map_runs WHERE arn = ?), ?, ?, column1, column2, column3, column4, column5, column6, column7,
       column8, column9, column10, column11
FROM (VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?));

-- name: map_run_children_ended
-- Children of one Map Run that ended (many at once, as above). Materialized first, so that each of them is
-- found by its key, rather than every row of the Map Run looked for among them.
WITH run (run_id) AS (SELECT id FROM map_runs WHERE arn = ?),
     ended (ended_attempt, ended_idx, ended_status, ended_ms, ended_output, ended_error, ended_cause)
     AS MATERIALIZED (VALUES (?, ?, ?, ?, ?, ?, ?))
UPDATE map_run_children SET status = ended_status, stop_ms = ended_ms, output = ended_output,
       error = COALESCE(ended_error, error), cause = COALESCE(ended_cause, cause)
FROM ended
WHERE map_run = (SELECT run_id FROM run) AND attempt = ended_attempt AND idx = ended_idx;

-- name: map_run_child_ended
UPDATE map_run_children SET status = ?4, stop_ms = ?5, output = ?6, error = COALESCE(?7, error),
       cause = COALESCE(?8, cause)
WHERE map_run = (SELECT id FROM map_runs WHERE arn = ?1) AND attempt = ?2 AND idx = ?3;

-- name: map_run_child_waiting
-- A redriven Map Run's child execution that did not succeed before waits for its turn to run again.
UPDATE map_run_children SET status = 'PENDING_REDRIVE'
WHERE map_run = (SELECT id FROM map_runs WHERE arn = ?1) AND attempt = ?2 AND idx = ?3;

-- name: map_run_child_redriven
-- Running again from where it stopped, under the same ARN: its stop and what it ended with are cleared.
UPDATE map_run_children SET status = 'RUNNING', stop_ms = NULL, output = NULL, error = NULL, cause = NULL,
       redrive_count = redrive_count + 1, redrive_ms = ?4
WHERE map_run = (SELECT id FROM map_runs WHERE arn = ?1) AND attempt = ?2 AND idx = ?3;

-- name: map_run_children_aborted
-- The parent execution ended (stopped, timed out, failed) with children unfinished: found by the key of
-- its Map Runs' rows (an execution's end is rare, next to its children's: no index of its own).
UPDATE map_run_children SET status = 'ABORTED', stop_ms = CASE WHEN status = 'RUNNING' THEN :stop_ms ELSE stop_ms END
WHERE map_run IN (SELECT id FROM map_runs WHERE execution_arn = :execution_arn)
  AND status IN ('RUNNING', 'PENDING_REDRIVE');

-- name: map_run_child_history_insert
-- Chunks of the histories of one Map Run's STANDARD children (`map_runs.write_child_history`, which repeats
-- the VALUES row): each row is (idx, last_id, first_id, events). OR IGNORE: for the copies of the last row
-- that make up a statement's size; nothing is stored for a Map Run without a row.
INSERT OR IGNORE INTO map_run_child_history (map_run, idx, last_id, first_id, events)
SELECT run.id, column1, column2, column3, column4
FROM (SELECT id FROM map_runs WHERE arn = ?) AS run, (VALUES (?, ?, ?, ?));

-- name: map_run_child_history_forward
SELECT events FROM map_run_child_history
WHERE map_run = (SELECT id FROM map_runs WHERE arn = :map_run_arn) AND idx = :idx AND last_id > :after
ORDER BY last_id LIMIT :limit;

-- name: map_run_child_history_reverse
SELECT events FROM map_run_child_history
WHERE map_run = (SELECT id FROM map_runs WHERE arn = :map_run_arn) AND idx = :idx AND last_id < :before
ORDER BY last_id DESC LIMIT :limit;

-- name: map_run_child_history_holding
SELECT first_id, events FROM map_run_child_history
WHERE map_run = (SELECT id FROM map_runs WHERE arn = :map_run_arn) AND idx = :idx AND last_id >= :id
  AND first_id <= :id
ORDER BY last_id LIMIT 1;

-- name: map_run_of_child_names
SELECT arn FROM map_runs WHERE child_names = :prefix;

-- name: map_runs_without_child_names
-- Map Runs stored before `child_names` was (migration 0023), of one Map Run state machine.
SELECT arn FROM map_runs WHERE +child_names IS NULL AND arn > :after AND arn < :before;

-- name: map_run_child_get
SELECT c.express, c.status, c.start_ms, c.stop_ms, c.input, c.output, c.error, c.cause, c.redrive_count,
       c.redrive_ms
FROM map_runs m JOIN map_run_children c ON c.map_run = m.id
WHERE m.arn = :map_run_arn AND c.attempt = :attempt AND c.idx = :idx;

-- name: map_run_children_page
-- ListExecutions of a Map Run: newest first, from a position, with an optional status and redrive filter.
-- Children that started in the same millisecond: by attempt, then by index (within an attempt, that is by
-- their names, which end in their indexes).
SELECT c.attempt, c.idx, c.express, c.item_count, c.status, c.start_ms, c.stop_ms, c.redrive_count, c.redrive_ms
FROM map_runs m JOIN map_run_children c ON c.map_run = m.id
WHERE m.arn = :map_run_arn
  AND (c.start_ms, c.attempt, c.idx) < (:before_ms, :before_attempt, :before_idx)
  AND (:status IS NULL OR c.status = :status)
  AND (:redriven IS NULL OR (c.redrive_count > 0) = :redriven)
ORDER BY c.start_ms DESC, c.attempt DESC, c.idx DESC LIMIT :limit;

-- name: map_run_results_written
UPDATE map_runs SET results_written = :results_written
WHERE execution_arn = :execution_arn AND started_event_id = :started_event_id;

-- name: map_run_children_results
-- A Map Run's child executions as its ResultWriter writes them: each index's latest attempt.
SELECT c.idx, c.attempt, c.express, c.status, c.start_ms, c.stop_ms, c.input, c.output, c.error, c.cause,
       c.redrive_count
FROM map_run_children c JOIN map_runs r ON c.map_run = r.id
WHERE r.arn = :arn
ORDER BY c.idx, c.attempt;
