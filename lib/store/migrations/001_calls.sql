-- One row per provider call (the usage ledger). JSON columns hold params, refs and usage detail.
CREATE TABLE IF NOT EXISTS calls (
    id              TEXT PRIMARY KEY,            -- time-sortable (uuid7 layout)
    created_at      TEXT NOT NULL,               -- UTC, ISO 8601 with microseconds and "Z"
    page            TEXT NOT NULL,
    action          TEXT NOT NULL,
    group_id        TEXT,
    provider        TEXT NOT NULL,
    backend         TEXT NOT NULL,               -- live | demo
    endpoint        TEXT,
    model           TEXT,
    params          TEXT NOT NULL DEFAULT '{}',  -- JSON object
    prompt          TEXT,
    negative_prompt TEXT,
    revised_prompt  TEXT,
    input_refs      TEXT NOT NULL DEFAULT '[]',  -- JSON list of sha256
    mask_ref        TEXT,
    output_text     TEXT,
    output_refs     TEXT NOT NULL DEFAULT '[]',  -- JSON list of sha256
    n_images        INTEGER,
    width           INTEGER,
    height          INTEGER,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    usage_detail    TEXT NOT NULL DEFAULT '{}',  -- JSON object
    cost_usd        REAL,                        -- NULL when unpriced, never a silent 0
    cost_source     TEXT NOT NULL,               -- reported | computed | table | unpriced
    latency_ms      REAL,
    ttft_ms         REAL,
    status          TEXT NOT NULL,               -- ok | error | rejected | cancelled
    http_status     INTEGER,
    error_code      TEXT,
    error_message   TEXT,                        -- for a person, keys redacted
    error_detail    TEXT,                        -- the provider's own words, keys redacted
    request_id      TEXT,
    app_version     TEXT
);
CREATE INDEX IF NOT EXISTS calls_created_at ON calls (created_at);
CREATE INDEX IF NOT EXISTS calls_group_id ON calls (group_id);
CREATE INDEX IF NOT EXISTS calls_provider_model ON calls (provider, model);
