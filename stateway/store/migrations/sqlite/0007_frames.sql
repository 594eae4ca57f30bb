-- Each Parallel branch and Map iteration of an execution (every frame but the root) as a row of its
-- own, apart from the execution's snapshot, so that a step rewrites only the frames it changed.
CREATE TABLE frames (
    execution_arn  TEXT NOT NULL,
    frame_id       TEXT NOT NULL,
    body           TEXT NOT NULL,  -- JSON: the frame as stateway.asl.snapshot encodes it
    PRIMARY KEY (execution_arn, frame_id)
) WITHOUT ROWID;
