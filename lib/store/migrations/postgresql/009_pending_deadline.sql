-- The moment a pending call is certainly over, wherever it runs (see the SQLite migration of the same number).
ALTER TABLE calls ADD COLUMN IF NOT EXISTS deadline_at TEXT;
