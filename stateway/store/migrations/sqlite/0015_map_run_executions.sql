-- A batched Map Run (ItemBatcher) runs a batch of items per child execution: DescribeMapRun's
-- executionCounts count those executions, apart from its itemCounts. The last progress of the child
-- executions as JSON ({"total", "running", "succeeded", "failed"}); NULL when each runs one item.
ALTER TABLE map_runs ADD COLUMN executions TEXT;
