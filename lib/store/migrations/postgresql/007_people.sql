-- Every call and vote names its person (lib/people.py: "oidc:<issuer>|<subject>", "header:<value>", or
-- "local" for the single user of a one-person install, which every earlier row was).
ALTER TABLE calls ADD COLUMN IF NOT EXISTS person TEXT NOT NULL DEFAULT 'local';
ALTER TABLE votes ADD COLUMN IF NOT EXISTS person TEXT NOT NULL DEFAULT 'local';
CREATE INDEX IF NOT EXISTS calls_person ON calls (person, created_at);
