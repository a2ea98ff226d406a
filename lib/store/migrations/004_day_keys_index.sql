-- Calls in the order of calls_daily's keys, so a prompt search totals the matching calls per day and
-- (page, action, provider, model, backend, status) walking this index instead of sorting every match.
CREATE INDEX IF NOT EXISTS calls_day_keys ON calls (substr(created_at, 1, 10), page, action, provider, COALESCE(model, ''), backend, status);
