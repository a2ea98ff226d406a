-- Each person's settled live cost per UTC day, kept by triggers as calls_daily is, so a per-person hard budget
-- (lib/budgets.py) reads a few rows per person instead of every call they made this month. Nano-dollars, as there.
CREATE TABLE IF NOT EXISTS calls_person_daily (
    person          TEXT NOT NULL,
    day             TEXT NOT NULL,               -- YYYY-MM-DD, UTC
    calls           INTEGER NOT NULL,
    cost_nano_usd   INTEGER NOT NULL,
    PRIMARY KEY (person, day)
) WITHOUT ROWID;

INSERT INTO calls_person_daily
SELECT person, substr(created_at, 1, 10), COUNT(*), COALESCE(SUM(CAST(ROUND(cost_usd * 1e9) AS INTEGER)), 0)
FROM calls WHERE backend = 'live' GROUP BY 1, 2;

CREATE TRIGGER IF NOT EXISTS calls_person_daily_insert AFTER INSERT ON calls WHEN new.backend = 'live' BEGIN
    INSERT INTO calls_person_daily VALUES (
        new.person, substr(new.created_at, 1, 10), 1, COALESCE(CAST(ROUND(new.cost_usd * 1e9) AS INTEGER), 0))
    ON CONFLICT (person, day) DO UPDATE SET calls = calls + 1, cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd;
END;

CREATE TRIGGER IF NOT EXISTS calls_person_daily_delete AFTER DELETE ON calls WHEN old.backend = 'live' BEGIN
    UPDATE calls_person_daily SET calls = calls - 1,
        cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(old.cost_usd * 1e9) AS INTEGER), 0)
    WHERE person = old.person AND day = substr(old.created_at, 1, 10);
    DELETE FROM calls_person_daily WHERE calls <= 0 AND person = old.person AND day = substr(old.created_at, 1, 10);
END;

-- Settling a call writes its cost: out with the old, in with the new (an update that changes none of these
-- columns, such as marking a call interrupted, costs nothing here).
CREATE TRIGGER IF NOT EXISTS calls_person_daily_update AFTER UPDATE OF cost_usd, person, backend, created_at ON calls BEGIN
    UPDATE calls_person_daily SET calls = calls - 1,
        cost_nano_usd = cost_nano_usd - COALESCE(CAST(ROUND(old.cost_usd * 1e9) AS INTEGER), 0)
    WHERE old.backend = 'live' AND person = old.person AND day = substr(old.created_at, 1, 10);
    DELETE FROM calls_person_daily
    WHERE old.backend = 'live' AND calls <= 0 AND person = old.person AND day = substr(old.created_at, 1, 10);
    INSERT INTO calls_person_daily
    SELECT new.person, substr(new.created_at, 1, 10), 1, COALESCE(CAST(ROUND(new.cost_usd * 1e9) AS INTEGER), 0)
    WHERE new.backend = 'live'
    ON CONFLICT (person, day) DO UPDATE SET calls = calls + 1, cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd;
END;
