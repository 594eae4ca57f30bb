-- Named queries for the Step Functions API: activities, versions, aliases, tags, paging.

-- name: list_state_machines_page
-- A machine being deleted (DELETING) is left out: DeleteStateMachine was accepted, and a listing item has
-- no status that would tell it apart from a machine one can start.
SELECT arn, name, type, created_ms FROM state_machines WHERE name > :after AND status = 'ACTIVE'
ORDER BY name LIMIT :limit;

-- name: version_of_machine
SELECT arn, state_machine_arn, version, definition, revision_id, description, created_ms
FROM state_machine_versions WHERE state_machine_arn = :state_machine_arn AND version = :version;

-- name: list_versions_page
SELECT arn, version, created_ms FROM state_machine_versions
WHERE state_machine_arn = :state_machine_arn AND version < :before ORDER BY version DESC LIMIT :limit;

-- name: delete_version
DELETE FROM state_machine_versions WHERE arn = :arn;

-- name: aliases_routing_to
SELECT arn FROM state_machine_aliases WHERE routing LIKE :pattern;

-- name: insert_alias
INSERT INTO state_machine_aliases (arn, state_machine_arn, name, description, routing, created_ms, updated_ms)
VALUES (:arn, :state_machine_arn, :name, :description, :routing, :created_ms, :updated_ms);

-- name: update_alias
UPDATE state_machine_aliases SET description = :description, routing = :routing, updated_ms = :updated_ms
WHERE arn = :arn;

-- name: get_alias
SELECT arn, state_machine_arn, name, description, routing, created_ms, updated_ms
FROM state_machine_aliases WHERE arn = :arn;

-- name: list_aliases_page
SELECT arn, name, created_ms FROM state_machine_aliases
WHERE state_machine_arn = :state_machine_arn AND routing LIKE :routing
  AND (created_ms < :before_ms OR (created_ms = :before_ms AND arn < :before_arn))
ORDER BY created_ms DESC, arn DESC LIMIT :limit;

-- name: delete_alias
DELETE FROM state_machine_aliases WHERE arn = :arn;

-- name: execution_pinning
SELECT version_arn, alias_arn, redrive_count, redrive_ms FROM executions WHERE arn = :arn;

-- name: describe_execution
-- machine_status is NULL once the execution's machine is gone, even if one of the same name (and ARN) was
-- created since: that one has another incarnation, so it is another machine.
SELECT arn, state_machine_arn, version_arn, name, status, input, output, error, cause, start_ms, stop_ms,
       parent_task, alias_arn, redrive_count, redrive_ms,
       (SELECT m.status FROM state_machines m
        WHERE m.arn = executions.state_machine_arn AND m.incarnation = executions.machine_incarnation
       ) AS machine_status,
       (SELECT MAX(c.last_id) FROM history_chunks c WHERE c.execution_arn = executions.arn) AS last_event_id
FROM executions WHERE arn = :arn;

-- name: set_execution_alias
UPDATE executions SET alias_arn = :alias_arn WHERE arn = :arn;

-- name: execution_definition
SELECT definition FROM executions WHERE arn = :arn;

-- name: insert_activity
INSERT INTO activities (arn, name, created_ms) VALUES (:arn, :name, :created_ms);

-- name: get_activity
SELECT arn, name, created_ms FROM activities WHERE arn = :arn;

-- name: delete_activity
DELETE FROM activities WHERE arn = :arn;

-- name: list_activities_page
SELECT arn, name, created_ms FROM activities WHERE name > :after ORDER BY name LIMIT :limit;

-- name: next_activity_task
SELECT execution_arn, id, command FROM tasks
WHERE activity_arn = :activity_arn AND status = 'SCHEDULED'
ORDER BY created_ms LIMIT 1;

-- name: claim_activity_task
UPDATE tasks SET status = 'WAITING', token = :token, heartbeat_deadline_ms = :heartbeat_deadline_ms
WHERE execution_arn = :execution_arn AND id = :id AND status = 'SCHEDULED';

-- name: insert_tag
INSERT OR REPLACE INTO tags (resource_arn, key, value) VALUES (:resource_arn, :key, :value);

-- name: delete_tag
DELETE FROM tags WHERE resource_arn = :resource_arn AND key = :key;

-- name: delete_tags_of
DELETE FROM tags WHERE resource_arn = :resource_arn;

-- name: list_tags
SELECT key, value FROM tags WHERE resource_arn = :resource_arn ORDER BY key;

-- name: history_events_of_type
SELECT id, previous_id, type, timestamp_ms, details FROM history_events
WHERE execution_arn = :arn AND type = :type ORDER BY id;

-- name: set_machine_settings
UPDATE state_machines SET logging_configuration = :logging_configuration,
       tracing_configuration = :tracing_configuration
WHERE arn = :arn;

-- name: set_last_version
UPDATE state_machines SET last_version = :version WHERE arn = :arn;

-- name: get_setting
SELECT value FROM settings WHERE name = :name;

-- name: create_setting
INSERT INTO settings (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING;
