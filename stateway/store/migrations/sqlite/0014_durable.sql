-- Lambda's asynchronous invocation queue: a `lambda:invoke` with InvocationType Event, stored with the
-- task's result (the 202) and deleted once it has run or failed its retries (engine/invocations.py).
CREATE TABLE async_invocations (
    execution_arn    TEXT NOT NULL,     -- the execution whose task invoked it
    task_id          TEXT NOT NULL,
    function_name    TEXT NOT NULL,
    payload          TEXT NOT NULL,     -- JSON: the event the handler receives
    request_id       TEXT NOT NULL,     -- the 202's, and the context's on every attempt
    idempotency_key  TEXT NOT NULL,     -- the task's
    attempts         INTEGER NOT NULL DEFAULT 0,  -- failed attempts so far
    due_ms           INTEGER NOT NULL,
    PRIMARY KEY (execution_arn, task_id)
);
CREATE INDEX async_invocations_by_due ON async_invocations (due_ms);
