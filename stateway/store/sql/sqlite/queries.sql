-- Named queries for the SQLite store. Each block starts with `-- name: <name>`.

-- name: insert_state_machine
INSERT INTO state_machines (arn, name, type, definition, role_arn, description, revision_id, created_ms, updated_ms,
                            incarnation)
VALUES (:arn, :name, :type, :definition, :role_arn, :description, :revision_id, :created_ms, :updated_ms,
        :incarnation);

-- name: update_state_machine
UPDATE state_machines SET definition = :definition, role_arn = :role_arn, description = :description,
       revision_id = :revision_id, updated_ms = :updated_ms
WHERE arn = :arn;

-- name: delete_state_machine
DELETE FROM state_machines WHERE arn = :arn;

-- name: get_state_machine
SELECT arn, name, type, definition, role_arn, description, revision_id, created_ms, updated_ms,
       logging_configuration, tracing_configuration, last_version, status, incarnation
FROM state_machines WHERE arn = :arn;

-- name: list_state_machines
-- As ListStateMachines lists them (`list_state_machines_page`): DELETING machines left out.
SELECT arn, name, type, created_ms FROM state_machines WHERE name > :after AND status = 'ACTIVE'
ORDER BY name LIMIT :limit;

-- name: insert_version
INSERT INTO state_machine_versions (arn, state_machine_arn, version, definition, revision_id, description, created_ms,
                                    role_arn)
VALUES (:arn, :state_machine_arn, :version, :definition, :revision_id, :description, :created_ms, :role_arn);

-- name: get_version
SELECT arn, state_machine_arn, version, definition, revision_id, description, created_ms, role_arn
FROM state_machine_versions WHERE arn = :arn;

-- name: latest_version
SELECT arn, version, revision_id FROM state_machine_versions
WHERE state_machine_arn = :state_machine_arn ORDER BY version DESC LIMIT 1;

-- name: list_versions
SELECT arn, version, created_ms FROM state_machine_versions
WHERE state_machine_arn = :state_machine_arn ORDER BY version DESC;

-- name: insert_execution
INSERT INTO executions (arn, state_machine_arn, version_arn, name, definition, status, input, start_ms, parent_task,
                        role_arn, machine_incarnation)
VALUES (:arn, :state_machine_arn, :version_arn, :name, :definition, 'RUNNING', :input, :start_ms, :parent_task,
        :role_arn, :machine_incarnation);

-- name: get_execution
SELECT arn, state_machine_arn, version_arn, name, status, input, output, error, cause, start_ms, stop_ms,
       parent_task, role_arn
FROM executions WHERE arn = :arn;

-- name: find_execution
SELECT arn, status, input FROM executions WHERE state_machine_arn = :state_machine_arn AND name = :name;

-- name: list_executions
SELECT arn, state_machine_arn, version_arn, alias_arn, name, status, start_ms, stop_ms, redrive_count, redrive_ms
FROM executions
WHERE state_machine_arn = :state_machine_arn AND (:status IS NULL OR status = :status)
  AND (:version_arn IS NULL OR version_arn = :version_arn) AND (:alias_arn IS NULL OR alias_arn = :alias_arn)
  AND (:redriven IS NULL OR (redrive_count > 0) = :redriven)
  AND (start_ms < :before_ms OR (start_ms = :before_ms AND arn < :before_arn))
ORDER BY start_ms DESC, arn DESC LIMIT :limit;

-- name: load_execution_state
SELECT definition, snapshot, revision, status, parent_task, input, output FROM executions WHERE arn = :arn;

-- name: save_execution_state
UPDATE executions SET snapshot = :snapshot, revision = revision + 1, status = :status, output = :output,
       error = :error, cause = :cause, stop_ms = :stop_ms
WHERE arn = :arn;

-- name: running_executions
SELECT arn FROM executions WHERE status = 'RUNNING';

-- name: insert_history_chunk
INSERT INTO history_chunks (execution_arn, last_id, first_id, events) VALUES (?, ?, ?, ?);

-- name: history_chunks_forward
SELECT events FROM history_chunks WHERE execution_arn = :arn AND last_id > :after ORDER BY last_id LIMIT :limit;

-- name: history_chunks_reverse
SELECT events FROM history_chunks WHERE execution_arn = :arn AND last_id < :before
ORDER BY last_id DESC LIMIT :limit;

-- name: last_event_id
SELECT MAX(last_id) FROM history_chunks WHERE execution_arn = :arn;

-- name: history_chunk_holding
SELECT first_id, events FROM history_chunks WHERE execution_arn = :arn AND last_id >= :id AND first_id <= :id
ORDER BY last_id LIMIT 1;

-- name: insert_task
INSERT INTO tasks (execution_arn, id, command, token, activity_arn, timeout_deadline_ms,
                   heartbeat_deadline_ms, created_ms, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: delete_task
DELETE FROM tasks WHERE execution_arn = ? AND id = ?;

-- name: task_exists
SELECT 1 FROM tasks WHERE execution_arn = ? AND id = ?;

-- name: task_waiting
UPDATE tasks SET status = 'WAITING', lease_owner = NULL, lease_expires_ms = NULL
WHERE execution_arn = ? AND id = ?;

-- name: get_task
SELECT execution_arn, id, command, status, token, timeout_deadline_ms, heartbeat_deadline_ms FROM tasks
WHERE execution_arn = :execution_arn AND id = :id;

-- name: task_by_token
SELECT execution_arn, id, command, status, heartbeat_deadline_ms FROM tasks WHERE token = :token;

-- name: heartbeat_task
UPDATE tasks SET heartbeat_deadline_ms = :deadline WHERE token = :token AND heartbeat_deadline_ms IS NOT NULL;

-- name: task_started
UPDATE tasks SET status = 'RUNNING' WHERE execution_arn = ? AND id = ? AND status = 'SCHEDULED';

-- name: started_tasks
SELECT execution_arn, id FROM tasks WHERE status IN ('RUNNING', 'WAITING');

-- name: unfinished_tasks
-- The tasks recovery runs again: not those whose own deadline has passed (the first round times them out).
SELECT execution_arn, id, command, status FROM tasks WHERE status IN ('SCHEDULED', 'RUNNING')
  AND NOT COALESCE(timeout_deadline_ms <= :now OR heartbeat_deadline_ms <= :now, FALSE);

-- name: expired_tasks
SELECT execution_arn, id, timeout_deadline_ms, heartbeat_deadline_ms FROM tasks
WHERE (timeout_deadline_ms IS NOT NULL AND timeout_deadline_ms <= :now)
   OR (heartbeat_deadline_ms IS NOT NULL AND heartbeat_deadline_ms <= :now)
LIMIT :limit;

-- name: next_task_deadline
-- The next deadline after :now (those before it were read as expired, or are a quarantined execution's).
SELECT MIN(deadline) FROM (SELECT MIN(COALESCE(timeout_deadline_ms, 9223372036854775807),
                                      COALESCE(heartbeat_deadline_ms, 9223372036854775807)) AS deadline FROM tasks)
WHERE deadline > :now;

-- name: insert_timer
INSERT OR REPLACE INTO timers (execution_arn, id, due_ms, purpose) VALUES (?, ?, ?, ?);

-- name: delete_timer
DELETE FROM timers WHERE execution_arn = ? AND id = ?;

-- name: due_timers
SELECT execution_arn, id, due_ms, purpose FROM timers WHERE due_ms <= :now ORDER BY due_ms LIMIT :limit;

-- name: next_timer
-- The next due time after :now (timers due before it were read, or are a quarantined execution's).
SELECT MIN(due_ms) FROM timers WHERE due_ms > :now;

-- name: insert_inbox
INSERT INTO inbox (execution_arn, event, created_ms) VALUES (:execution_arn, :event, :created_ms);

-- name: pending_inbox
SELECT seq, execution_arn, event FROM inbox ORDER BY seq LIMIT :limit;

-- name: queued_stops
-- Executions a StopExecution is queued for (recovery leaves their tasks to the stop).
SELECT DISTINCT execution_arn FROM inbox WHERE json_extract(event, '$.type') = 'StopRequested';

-- name: due_execution_timeouts
-- Executions whose TimeoutSeconds has passed (recovery leaves their tasks to the timeout).
SELECT DISTINCT execution_arn FROM timers WHERE due_ms <= :now AND purpose = 'execution_timeout';

-- name: delete_inbox
DELETE FROM inbox WHERE seq = ?;

-- name: inbox_row_pending
-- Whether an inbox row is still to be applied (the round that applies it deletes it).
SELECT 1 FROM inbox WHERE seq = :seq;

-- name: heartbeat_task_by_id
UPDATE tasks SET heartbeat_deadline_ms = ? WHERE execution_arn = ? AND id = ?;

-- name: mark_redriven
UPDATE executions SET redrive_count = ?, redrive_ms = ? WHERE arn = ?;

-- name: reopen_execution
-- RedriveExecution: RUNNING again, with the redrive count and date it answers (the decider's
-- ExecutionRedriven records the same, from the inbox row written with this).
UPDATE executions SET status = 'RUNNING', stop_ms = NULL, output = NULL, error = NULL, cause = NULL,
    redrive_count = redrive_count + 1, redrive_ms = :redrive_ms
WHERE arn = :arn AND status IN ('FAILED', 'ABORTED', 'TIMED_OUT');

-- name: redrive_of_client_token
-- The redriveDate a redrive with this clientToken answered, if the token is one of the last 10 that redrove
-- the execution and was first used at :since or later (RedriveExecution's idempotency window).
SELECT redrive_ms FROM (
    SELECT client_token, redrive_ms FROM redrive_tokens WHERE execution_arn = :arn
    ORDER BY redrive_ms DESC, rowid DESC LIMIT :kept)
WHERE client_token = :token AND redrive_ms >= :since;

-- name: remember_client_token
-- A redrive's clientToken and its answer, in the redrive's transaction (a token whose window had passed
-- is used anew: its row is replaced).
INSERT OR REPLACE INTO redrive_tokens (execution_arn, client_token, redrive_ms) VALUES (:arn, :token, :redrive_ms);

-- name: forget_client_tokens
-- Tokens no retry can use any more: first used before :since, or older than the execution's last :kept.
DELETE FROM redrive_tokens WHERE redrive_ms < :since OR (execution_arn = :arn AND rowid NOT IN (
    SELECT rowid FROM redrive_tokens WHERE execution_arn = :arn ORDER BY redrive_ms DESC, rowid DESC LIMIT :kept));

-- name: put_join_data
INSERT OR REPLACE INTO join_data (execution_arn, join_id, kind, idx, value) VALUES (?, ?, ?, ?, ?);

-- name: delete_join_data
DELETE FROM join_data WHERE execution_arn = ?;

-- name: delete_join
DELETE FROM join_data WHERE execution_arn = ? AND join_id = ?;

-- name: running_children
SELECT arn FROM executions
WHERE status = 'RUNNING' AND parent_task IS NOT NULL
  AND json_extract(parent_task, '$.execution_arn') = ? AND json_extract(parent_task, '$.task_id') = ?;

-- name: orphaned_children
-- Running `.sync` children whose parent's task has ended without them (a redriven child is the user's).
SELECT arn FROM executions AS child
WHERE status = 'RUNNING' AND parent_task IS NOT NULL AND redrive_count = 0
  AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.execution_arn = json_extract(child.parent_task, '$.execution_arn')
                                        AND tasks.id = json_extract(child.parent_task, '$.task_id'));

-- name: bury_task_token
INSERT OR IGNORE INTO task_tombstones (token, created_ms)
SELECT token, ? FROM tasks WHERE execution_arn = ? AND id = ? AND token IS NOT NULL;

-- name: answered_task
SELECT 1 FROM tasks JOIN task_tombstones ON task_tombstones.token = tasks.token
WHERE tasks.execution_arn = ? AND tasks.id = ?;

-- name: bury_token
INSERT OR IGNORE INTO task_tombstones (token, created_ms) VALUES (?, ?);

-- name: buried_token
SELECT 1 FROM task_tombstones WHERE token = :token;

-- name: unstarted_executions
SELECT arn FROM executions WHERE status = 'RUNNING' AND snapshot IS NULL;
