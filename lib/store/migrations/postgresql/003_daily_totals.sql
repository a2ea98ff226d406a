-- Running totals per UTC day and (page, action, provider, model, backend, status), kept by a trigger as on
-- SQLite, so the ledger page reads a few thousand rows instead of every call. Cost in integer nano-dollars.
CREATE TABLE IF NOT EXISTS calls_daily (
    day             TEXT NOT NULL,
    page            TEXT NOT NULL,
    action          TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,               -- '' for calls without a model
    backend         TEXT NOT NULL,
    status          TEXT NOT NULL,
    calls           BIGINT NOT NULL,
    priced_calls    BIGINT NOT NULL,
    cost_nano_usd   BIGINT NOT NULL,
    n_images        BIGINT NOT NULL,
    input_tokens    BIGINT NOT NULL,
    output_tokens   BIGINT NOT NULL,
    PRIMARY KEY (day, page, action, provider, model, backend, status)
);

INSERT INTO calls_daily
SELECT substr(created_at, 1, 10), page, action, provider, COALESCE(model, ''), backend, status,
       COUNT(*), COUNT(cost_usd), COALESCE(SUM(CAST(ROUND(cost_usd * 1e9) AS BIGINT)), 0),
       COALESCE(SUM(n_images), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0)
FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE OR REPLACE FUNCTION calls_daily_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE calls_daily SET
            calls = calls - 1,
            priced_calls = priced_calls - (CASE WHEN OLD.cost_usd IS NULL THEN 0 ELSE 1 END),
            cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(OLD.cost_usd * 1e9) AS BIGINT), 0),
            n_images = n_images - COALESCE(OLD.n_images, 0),
            input_tokens = input_tokens - COALESCE(OLD.input_tokens, 0),
            output_tokens = output_tokens - COALESCE(OLD.output_tokens, 0)
        WHERE day = substr(OLD.created_at, 1, 10) AND page = OLD.page AND action = OLD.action
          AND provider = OLD.provider AND model = COALESCE(OLD.model, '') AND backend = OLD.backend AND status = OLD.status;
        DELETE FROM calls_daily WHERE calls <= 0 AND day = substr(OLD.created_at, 1, 10) AND page = OLD.page
          AND action = OLD.action AND provider = OLD.provider AND model = COALESCE(OLD.model, '')
          AND backend = OLD.backend AND status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO calls_daily VALUES (
            substr(NEW.created_at, 1, 10), NEW.page, NEW.action, NEW.provider, COALESCE(NEW.model, ''), NEW.backend, NEW.status,
            1, CASE WHEN NEW.cost_usd IS NULL THEN 0 ELSE 1 END, COALESCE(CAST(ROUND(NEW.cost_usd * 1e9) AS BIGINT), 0),
            COALESCE(NEW.n_images, 0), COALESCE(NEW.input_tokens, 0), COALESCE(NEW.output_tokens, 0))
        ON CONFLICT (day, page, action, provider, model, backend, status) DO UPDATE SET
            calls = calls_daily.calls + 1,
            priced_calls = calls_daily.priced_calls + excluded.priced_calls,
            cost_nano_usd = calls_daily.cost_nano_usd + excluded.cost_nano_usd,
            n_images = calls_daily.n_images + excluded.n_images,
            input_tokens = calls_daily.input_tokens + excluded.input_tokens,
            output_tokens = calls_daily.output_tokens + excluded.output_tokens;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calls_daily_follow AFTER INSERT OR UPDATE OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_daily_follow();
