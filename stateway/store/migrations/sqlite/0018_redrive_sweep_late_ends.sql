-- The redrive sweep's index (0017) ordered executions by their last redrivable moment. An execution that
-- ends after that moment (one timed out at its year: a redrive was never possible once it had ended) went
-- in below where the sweep had already passed, and its rows were never swept. The sweep now walks the
-- later of that moment and the execution's stop, which is never behind a sweep that looked before the end.
DROP INDEX executions_redrivable_until;
CREATE INDEX executions_sweepable ON executions (max(stop_ms, min(stop_ms + 1209600000, start_ms + 31535999999)), arn)
    WHERE status IN ('FAILED', 'ABORTED', 'TIMED_OUT');
