-- A state machine's logging and tracing configuration (JSON, as UpdateStateMachine last set them;
-- NULL: never set, shown as off), and the number of the last version it published: AWS never reuses
-- a version number, not even after the latest version was deleted.
ALTER TABLE state_machines ADD COLUMN logging_configuration TEXT;
ALTER TABLE state_machines ADD COLUMN tracing_configuration TEXT;
ALTER TABLE state_machines ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;

UPDATE state_machines SET last_version = (
    SELECT COALESCE(MAX(v.version), 0) FROM state_machine_versions AS v WHERE v.state_machine_arn = state_machines.arn);
