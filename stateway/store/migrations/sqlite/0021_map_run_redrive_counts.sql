-- DescribeMapRun's counts of a redriven Map Run's child executions: those that did not succeed before and
-- wait to run again (pendingRedrive, while it runs), and those a redrive found not redrivable, whose
-- failure stands for good (failuresNotRedrivable). Item counts here; with an ItemBatcher the counts of
-- child executions are in the `executions` JSON, under the same names.
ALTER TABLE map_runs ADD COLUMN pending_redrive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE map_runs ADD COLUMN failures_not_redrivable INTEGER NOT NULL DEFAULT 0;
