-- Named queries for the frames an execution's snapshot keeps apart (table `frames`).

-- name: put_frame
INSERT OR REPLACE INTO frames (execution_arn, frame_id, body) VALUES (?, ?, ?);

-- name: delete_frame
DELETE FROM frames WHERE execution_arn = ? AND frame_id = ?;

-- name: frames_of_execution
SELECT frame_id, body FROM frames WHERE execution_arn = :arn;
