-- One index in place of migrations 003's calls_latency and 004's calls_day_keys (a third less space):
-- calls in the order of calls_daily's keys, with created_at and latency_ms along, so that
--   * a prompt search totals the matching calls per group walking it, without sorting them, and
--   * the chosen calls' latencies are read from it alone, without the wide rows.
DROP INDEX IF EXISTS calls_latency;
DROP INDEX IF EXISTS calls_day_keys;
CREATE INDEX IF NOT EXISTS calls_by_day ON calls (substr(created_at, 1, 10), page, action, provider, model, backend, status, created_at, latency_ms);
