-- One row per provider call (the usage ledger). Same columns as the SQLite schema; times stay fixed-width
-- ISO text (UTC, microseconds, "Z") so both databases order and compare them alike. JSON columns are text.
-- seq: insertion order (SQLite has its rowid), read by Ledger.version().
CREATE TABLE IF NOT EXISTS calls (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    page            TEXT NOT NULL,
    action          TEXT NOT NULL,
    group_id        TEXT,
    provider        TEXT NOT NULL,
    backend         TEXT NOT NULL,
    endpoint        TEXT,
    model           TEXT,
    params          TEXT NOT NULL DEFAULT '{}',
    prompt          TEXT,
    negative_prompt TEXT,
    revised_prompt  TEXT,
    input_refs      TEXT NOT NULL DEFAULT '[]',
    mask_ref        TEXT,
    output_text     TEXT,
    output_refs     TEXT NOT NULL DEFAULT '[]',
    n_images        INTEGER,
    width           INTEGER,
    height          INTEGER,
    input_tokens    BIGINT,
    output_tokens   BIGINT,
    usage_detail    TEXT NOT NULL DEFAULT '{}',
    cost_usd        DOUBLE PRECISION,
    cost_source     TEXT NOT NULL,
    latency_ms      DOUBLE PRECISION,
    ttft_ms         DOUBLE PRECISION,
    status          TEXT NOT NULL,
    http_status     INTEGER,
    error_code      TEXT,
    error_message   TEXT,
    error_detail    TEXT,
    request_id      TEXT,
    app_version     TEXT,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX IF NOT EXISTS calls_created_at ON calls (created_at);
CREATE INDEX IF NOT EXISTS calls_group_id ON calls (group_id);
CREATE INDEX IF NOT EXISTS calls_provider_model ON calls (provider, model);
CREATE UNIQUE INDEX IF NOT EXISTS calls_seq ON calls (seq);
