-- Calls are written as 'pending' before they go out and settled after (ok, error, ... or 'interrupted'
-- when the process that sent them died). A pending row holds its estimated cost in reserved_usd, so a
-- hard monthly budget counts money in flight; owner names the process that sent it (host:pid:token).
ALTER TABLE calls ADD COLUMN reserved_usd REAL;
ALTER TABLE calls ADD COLUMN owner TEXT;
CREATE INDEX IF NOT EXISTS calls_pending ON calls (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS calls_reserved ON calls (created_at) WHERE reserved_usd IS NOT NULL;
