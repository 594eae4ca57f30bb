-- Task rows are inserted, updated and deleted on nearly every step, so each index on them costs
-- pages in every commit. Tasks become one B-tree keyed by (execution, task id), with indexes only
-- where a lookup needs one: tokens (SendTask*), and activity tasks waiting for a GetActivityTask
-- (by a plain column instead of an expression over the command's JSON).
CREATE TABLE tasks_lean (
    execution_arn          TEXT NOT NULL,
    id                     TEXT NOT NULL,
    command                TEXT NOT NULL,    -- the ScheduleTask command as JSON
    status                 TEXT NOT NULL,    -- SCHEDULED | RUNNING | WAITING (for its token)
    token                  TEXT,
    activity_arn           TEXT,             -- set for activity tasks only
    lease_owner            TEXT,
    lease_expires_ms       INTEGER,
    timeout_deadline_ms    INTEGER,
    heartbeat_deadline_ms  INTEGER,
    created_ms             INTEGER NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;

INSERT INTO tasks_lean (execution_arn, id, command, status, token, activity_arn, lease_owner, lease_expires_ms,
                        timeout_deadline_ms, heartbeat_deadline_ms, created_ms)
SELECT execution_arn, id, command, status, token,
       CASE WHEN json_extract(command, '$.kind') = 'activity' THEN json_extract(command, '$.resource') END,
       lease_owner, lease_expires_ms, timeout_deadline_ms, heartbeat_deadline_ms, created_ms
FROM tasks;

DROP TABLE tasks;
ALTER TABLE tasks_lean RENAME TO tasks;
CREATE UNIQUE INDEX tasks_by_token ON tasks (token) WHERE token IS NOT NULL;
CREATE INDEX tasks_by_activity ON tasks (activity_arn, created_ms)
    WHERE activity_arn IS NOT NULL AND status = 'SCHEDULED';
