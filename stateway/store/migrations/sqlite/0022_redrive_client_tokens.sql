-- RedriveExecution's clientToken: each redrive made with a token stores it, with the redriveDate it
-- answered, in the transaction that reopens the execution, so that a retry with the same token — after a
-- lost answer or a crash — gets that answer again instead of a second redrive or a refusal. AWS answers the
-- last 10 tokens that redrove an execution, for 15 minutes after each was first used; rows past that are
-- deleted as later redrives come (`redrive_ms`, the moment of the first use, orders and ages them).
CREATE TABLE redrive_tokens (
    execution_arn TEXT NOT NULL,
    client_token TEXT NOT NULL,
    redrive_ms INTEGER NOT NULL,
    PRIMARY KEY (execution_arn, client_token)
);
CREATE INDEX redrive_tokens_by_age ON redrive_tokens (redrive_ms);
