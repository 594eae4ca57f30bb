-- Values the store keeps about itself, by name: the key that signs pagination tokens (created with the
-- first token, so that tokens stay good across restarts on this file and are refused by any other).
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
