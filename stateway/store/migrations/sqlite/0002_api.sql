-- The Step Functions API: aliases routing to versions, executions pinned to an alias, redrives, and
-- an index that lets GetActivityTask find the oldest scheduled task of one activity.
CREATE TABLE state_machine_aliases (
    arn                TEXT PRIMARY KEY,
    state_machine_arn  TEXT NOT NULL REFERENCES state_machines(arn) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    routing            TEXT NOT NULL,  -- JSON [{"stateMachineVersionArn": …, "weight": …}]
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    UNIQUE (state_machine_arn, name)
);

ALTER TABLE executions ADD COLUMN alias_arn TEXT;
ALTER TABLE executions ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN redrive_ms INTEGER;

CREATE INDEX tasks_by_activity ON tasks (json_extract(command, '$.resource'), created_ms)
    WHERE status = 'SCHEDULED';
