-- Named queries for Lambda's asynchronous invocation queue (table `async_invocations`).

-- name: queue_invocation
INSERT OR IGNORE INTO async_invocations (execution_arn, task_id, function_name, payload, request_id,
                                         idempotency_key, due_ms)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: retry_invocation
UPDATE async_invocations SET attempts = ?, due_ms = ? WHERE execution_arn = ? AND task_id = ?;

-- name: delete_invocation
DELETE FROM async_invocations WHERE execution_arn = ? AND task_id = ?;

-- name: due_invocations
SELECT execution_arn, task_id, function_name, payload, request_id, idempotency_key, attempts
FROM async_invocations WHERE due_ms <= :now ORDER BY due_ms LIMIT :limit;

-- name: next_invocation
-- Those due already are running or about to: the next one to wait for is later.
SELECT MIN(due_ms) FROM async_invocations WHERE due_ms > :now;
