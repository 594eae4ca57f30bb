-- The IAM role an execution runs with: its state machine's roleArn when it started, or its version's
-- (a version keeps the role it was published with). NULL in rows stored before: the server's default.
ALTER TABLE executions ADD COLUMN role_arn TEXT;
ALTER TABLE state_machine_versions ADD COLUMN role_arn TEXT;
