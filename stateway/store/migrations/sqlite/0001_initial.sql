-- State machines, their immutable versions, executions with their snapshots, history, and the
-- rows that wait for the world: tasks (with leases and tokens), timers and the inbox.
CREATE TABLE state_machines (
    arn          TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    role_arn     TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    revision_id  TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE state_machine_versions (
    arn                TEXT PRIMARY KEY,
    state_machine_arn  TEXT NOT NULL REFERENCES state_machines(arn) ON DELETE CASCADE,
    version            INTEGER NOT NULL,
    definition         TEXT NOT NULL,
    revision_id        TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    created_ms         INTEGER NOT NULL,
    UNIQUE (state_machine_arn, version)
);

CREATE TABLE executions (
    arn                TEXT PRIMARY KEY,
    state_machine_arn  TEXT NOT NULL,
    version_arn        TEXT,
    name               TEXT NOT NULL,
    definition         TEXT NOT NULL,
    status             TEXT NOT NULL,
    input              TEXT NOT NULL,
    output             TEXT,
    error              TEXT,
    cause              TEXT,
    start_ms           INTEGER NOT NULL,
    stop_ms            INTEGER,
    snapshot           TEXT,
    revision           INTEGER NOT NULL DEFAULT 0,
    parent_task        TEXT,  -- JSON {execution_arn, task_id, pattern} for a nested execution
    UNIQUE (state_machine_arn, name)
);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_ms);
CREATE INDEX executions_running ON executions (status) WHERE status = 'RUNNING';

CREATE TABLE history_events (
    execution_arn  TEXT NOT NULL,
    id             INTEGER NOT NULL,
    previous_id    INTEGER NOT NULL,
    type           TEXT NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    details        TEXT,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;

CREATE TABLE tasks (
    execution_arn          TEXT NOT NULL,
    id                     TEXT NOT NULL,
    command                TEXT NOT NULL,    -- the ScheduleTask command as JSON
    status                 TEXT NOT NULL,    -- SCHEDULED | RUNNING | WAITING (for its token)
    token                  TEXT UNIQUE,
    lease_owner            TEXT,
    lease_expires_ms       INTEGER,
    timeout_deadline_ms    INTEGER,
    heartbeat_deadline_ms  INTEGER,
    created_ms             INTEGER NOT NULL,
    PRIMARY KEY (execution_arn, id)
);
CREATE INDEX tasks_by_status ON tasks (status);

CREATE TABLE timers (
    execution_arn  TEXT NOT NULL,
    id             TEXT NOT NULL,
    due_ms         INTEGER NOT NULL,
    purpose        TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
);
CREATE INDEX timers_by_due ON timers (due_ms);

CREATE TABLE inbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_arn  TEXT NOT NULL,
    event          TEXT NOT NULL,
    created_ms     INTEGER NOT NULL
);

CREATE TABLE activities (
    arn         TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE tags (
    resource_arn  TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
