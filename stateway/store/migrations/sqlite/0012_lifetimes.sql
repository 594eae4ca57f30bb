-- DeleteStateMachine of a machine with running executions marks it DELETING; it is removed once its
-- last running execution has ended. The partial indexes find the few DELETING machines, and whether a
-- machine has a running execution, without reading its finished ones.
ALTER TABLE state_machines ADD COLUMN status TEXT NOT NULL DEFAULT 'ACTIVE';
CREATE INDEX state_machines_deleting ON state_machines (arn) WHERE status = 'DELETING';
CREATE INDEX executions_running_by_machine ON executions (state_machine_arn) WHERE status = 'RUNNING';
