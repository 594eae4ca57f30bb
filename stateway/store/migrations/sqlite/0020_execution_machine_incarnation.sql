-- An execution remembers the incarnation (0019) of the state machine it was started on. DescribeExecution
-- and RedriveExecution ask whether that machine is still there (and its status) by comparing it with the
-- incarnation of the machine stored under the execution's state machine ARN: a machine deleted and created
-- again under the same name, even within the same millisecond, is another machine.
-- Executions stored before: the incarnation of the machine now stored under their ARN if it was created
-- no later than they started (the comparison of creation times made until now), else NULL, which matches
-- no machine: the one they ran on is gone.
ALTER TABLE executions ADD COLUMN machine_incarnation TEXT;
UPDATE executions SET machine_incarnation = (
    SELECT m.incarnation FROM state_machines m
    WHERE m.arn = executions.state_machine_arn AND m.created_ms <= executions.start_ms);
