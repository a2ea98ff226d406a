-- Each person's settled live cost per UTC day, kept by a trigger as calls_daily is, so a per-person hard budget
-- (lib/budgets.py) reads a few rows per person instead of every call they made this month. Nano-dollars, as there.
CREATE TABLE IF NOT EXISTS calls_person_daily (
    person          TEXT NOT NULL,
    day             TEXT NOT NULL,
    calls           BIGINT NOT NULL,
    cost_nano_usd   BIGINT NOT NULL,
    PRIMARY KEY (person, day)
);

INSERT INTO calls_person_daily
SELECT person, substr(created_at, 1, 10), COUNT(*), COALESCE(SUM(CAST(ROUND(cost_usd * 1e9) AS BIGINT)), 0)
FROM calls WHERE backend = 'live' GROUP BY 1, 2;

CREATE OR REPLACE FUNCTION calls_person_daily_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.backend = 'live' THEN
        UPDATE calls_person_daily SET calls = calls - 1,
            cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(OLD.cost_usd * 1e9) AS BIGINT), 0)
        WHERE person = OLD.person AND day = substr(OLD.created_at, 1, 10);
        DELETE FROM calls_person_daily WHERE calls <= 0 AND person = OLD.person AND day = substr(OLD.created_at, 1, 10);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.backend = 'live' THEN
        INSERT INTO calls_person_daily VALUES (
            NEW.person, substr(NEW.created_at, 1, 10), 1, COALESCE(CAST(ROUND(NEW.cost_usd * 1e9) AS BIGINT), 0))
        ON CONFLICT (person, day) DO UPDATE SET calls = calls_person_daily.calls + 1,
            cost_nano_usd = calls_person_daily.cost_nano_usd + excluded.cost_nano_usd;
    END IF;
    RETURN NULL;
END
$$;

-- Settling a call writes its cost; an update that changes none of these columns (marking it interrupted) is left out.
CREATE TRIGGER calls_person_daily_follow AFTER INSERT OR DELETE OR UPDATE OF cost_usd, person, backend, created_at ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_person_daily_follow();
