-- Compare votes, and small app settings (monthly budget, saved system prompts) as JSON values.
CREATE TABLE IF NOT EXISTS votes (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    prompt      TEXT,
    winner      TEXT NOT NULL,
    targets     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS votes_group_id ON votes (group_id);
CREATE TABLE IF NOT EXISTS settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
