-- A redrive of the parent execution redrives its failed Map Run (MapRunRedriven) rather than starting
-- another: DescribeMapRun reports how many times (redriveCount) and when last (redriveDate).
ALTER TABLE map_runs ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE map_runs ADD COLUMN redrive_ms INTEGER;
