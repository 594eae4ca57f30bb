-- The redrive sweep: an ended FAILED, ABORTED or TIMED_OUT execution keeps its frame and join rows for
-- RedriveExecution until the last moment a redrive may come, `service.redrivable_until_ms`: 14 days after
-- its stop, or a year (365 days) after its start less a millisecond, whichever is first. The sweep walks
-- this index in that order from where it last stopped (a cursor in `settings`), so each look reads only
-- the executions whose moment has passed since.
CREATE INDEX executions_redrivable_until ON executions (min(stop_ms + 1209600000, start_ms + 31535999999), arn)
    WHERE status IN ('FAILED', 'ABORTED', 'TIMED_OUT');
