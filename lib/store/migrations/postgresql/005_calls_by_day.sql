-- Calls in the order of calls_daily's keys, with created_at and latency_ms along (as on SQLite): a prompt
-- search totals its matches per group from it, and the chosen calls' latencies can be read from it alone.
CREATE INDEX IF NOT EXISTS calls_by_day ON calls ((substr(created_at, 1, 10)), page, action, provider, model, backend, status, created_at, latency_ms);
