-- Running totals per UTC day and (page, action, provider, model, backend, status), kept by triggers,
-- so the ledger page's figures, charts and filter choices read a few thousand rows instead of every call.
-- Cost is kept in integer nano-dollars so a delete subtracts exactly what its insert added.
CREATE TABLE IF NOT EXISTS calls_daily (
    day             TEXT NOT NULL,               -- YYYY-MM-DD, UTC
    page            TEXT NOT NULL,
    action          TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,               -- '' for calls without a model
    backend         TEXT NOT NULL,
    status          TEXT NOT NULL,
    calls           INTEGER NOT NULL,
    priced_calls    INTEGER NOT NULL,            -- calls with a known cost
    cost_nano_usd   INTEGER NOT NULL,
    n_images        INTEGER NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    PRIMARY KEY (day, page, action, provider, model, backend, status)
) WITHOUT ROWID;

INSERT INTO calls_daily
SELECT substr(created_at, 1, 10), page, action, provider, COALESCE(model, ''), backend, status,
       COUNT(*), COUNT(cost_usd), COALESCE(SUM(CAST(ROUND(cost_usd * 1e9) AS INTEGER)), 0),
       COALESCE(SUM(n_images), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0)
FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TRIGGER IF NOT EXISTS calls_daily_insert AFTER INSERT ON calls BEGIN
    INSERT INTO calls_daily VALUES (
        substr(new.created_at, 1, 10), new.page, new.action, new.provider, COALESCE(new.model, ''), new.backend, new.status,
        1, new.cost_usd IS NOT NULL, COALESCE(CAST(ROUND(new.cost_usd * 1e9) AS INTEGER), 0),
        COALESCE(new.n_images, 0), COALESCE(new.input_tokens, 0), COALESCE(new.output_tokens, 0))
    ON CONFLICT (day, page, action, provider, model, backend, status) DO UPDATE SET
        calls = calls + 1,
        priced_calls = priced_calls + excluded.priced_calls,
        cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd,
        n_images = n_images + excluded.n_images,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens;
END;

CREATE TRIGGER IF NOT EXISTS calls_daily_delete AFTER DELETE ON calls BEGIN
    UPDATE calls_daily SET
        calls = calls - 1,
        priced_calls = priced_calls - (old.cost_usd IS NOT NULL),
        cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(old.cost_usd * 1e9) AS INTEGER), 0),
        n_images = n_images - COALESCE(old.n_images, 0),
        input_tokens = input_tokens - COALESCE(old.input_tokens, 0),
        output_tokens = output_tokens - COALESCE(old.output_tokens, 0)
    WHERE day = substr(old.created_at, 1, 10) AND page = old.page AND action = old.action AND provider = old.provider
      AND model = COALESCE(old.model, '') AND backend = old.backend AND status = old.status;
    DELETE FROM calls_daily WHERE calls <= 0 AND day = substr(old.created_at, 1, 10) AND page = old.page AND action = old.action AND provider = old.provider
      AND model = COALESCE(old.model, '') AND backend = old.backend AND status = old.status;
END;

-- The ledger never edits a row, but if anything does, the totals follow: out with the old, in with the new.
CREATE TRIGGER IF NOT EXISTS calls_daily_update AFTER UPDATE ON calls BEGIN
    UPDATE calls_daily SET
        calls = calls - 1,
        priced_calls = priced_calls - (old.cost_usd IS NOT NULL),
        cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(old.cost_usd * 1e9) AS INTEGER), 0),
        n_images = n_images - COALESCE(old.n_images, 0),
        input_tokens = input_tokens - COALESCE(old.input_tokens, 0),
        output_tokens = output_tokens - COALESCE(old.output_tokens, 0)
    WHERE day = substr(old.created_at, 1, 10) AND page = old.page AND action = old.action AND provider = old.provider
      AND model = COALESCE(old.model, '') AND backend = old.backend AND status = old.status;
    DELETE FROM calls_daily WHERE calls <= 0 AND day = substr(old.created_at, 1, 10) AND page = old.page AND action = old.action AND provider = old.provider
      AND model = COALESCE(old.model, '') AND backend = old.backend AND status = old.status;
    INSERT INTO calls_daily VALUES (
        substr(new.created_at, 1, 10), new.page, new.action, new.provider, COALESCE(new.model, ''), new.backend, new.status,
        1, new.cost_usd IS NOT NULL, COALESCE(CAST(ROUND(new.cost_usd * 1e9) AS INTEGER), 0),
        COALESCE(new.n_images, 0), COALESCE(new.input_tokens, 0), COALESCE(new.output_tokens, 0))
    ON CONFLICT (day, page, action, provider, model, backend, status) DO UPDATE SET
        calls = calls + 1,
        priced_calls = priced_calls + excluded.priced_calls,
        cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd,
        n_images = n_images + excluded.n_images,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens;
END;

-- Latencies of the chosen calls (for p50/p95 and the histogram) read from this index, without the wide rows.
CREATE INDEX IF NOT EXISTS calls_latency ON calls (created_at, backend, provider, model, status, page, action, latency_ms);
