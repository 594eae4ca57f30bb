-- DescribeMapRun's resultsWritten: how many child executions' results a distributed Map's ResultWriter
-- wrote to the object store as its Map Run ended (0 without a ResultWriter).
ALTER TABLE map_runs ADD COLUMN results_written INTEGER NOT NULL DEFAULT 0;
