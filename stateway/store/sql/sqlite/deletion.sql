-- DeleteStateMachine: at once, or DELETING until the machine's last running execution has ended.

-- name: running_execution_of_machine
SELECT 1 FROM executions WHERE state_machine_arn = :arn AND status = 'RUNNING' LIMIT 1;

-- name: machine_status
-- StartExecution's look at the machine, in the transaction that stores the execution: still there, not
-- DELETING, and the same machine (incarnation) as the one whose definition the start read.
SELECT status, incarnation FROM state_machines WHERE arn = :arn;

-- name: mark_state_machine_deleting
UPDATE state_machines SET status = 'DELETING' WHERE arn = :arn;

-- name: deleting_state_machines
SELECT arn FROM state_machines WHERE status = 'DELETING';

-- name: deleting_state_machines_done
SELECT arn FROM state_machines WHERE status = 'DELETING' AND NOT EXISTS (
    SELECT 1 FROM executions WHERE executions.state_machine_arn = state_machines.arn AND executions.status = 'RUNNING');

-- name: delete_tags_of_machine
DELETE FROM tags WHERE resource_arn = :arn
    OR resource_arn IN (SELECT arn FROM state_machine_aliases WHERE state_machine_arn = :arn);

-- name: delete_scratch_of_machine_joins
-- A removed machine's executions cannot be redriven: their joins' data is not read again.
DELETE FROM join_data WHERE execution_arn IN (SELECT arn FROM executions WHERE state_machine_arn = :arn);

-- name: delete_scratch_of_machine_frames
DELETE FROM frames WHERE execution_arn IN (SELECT arn FROM executions WHERE state_machine_arn = :arn);
