-- Pending calls (see the SQLite migration of the same number): the estimate they hold and who sent them.
ALTER TABLE calls ADD COLUMN IF NOT EXISTS reserved_usd DOUBLE PRECISION;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS owner TEXT;
CREATE INDEX IF NOT EXISTS calls_pending ON calls (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS calls_reserved ON calls (created_at) WHERE reserved_usd IS NOT NULL;
