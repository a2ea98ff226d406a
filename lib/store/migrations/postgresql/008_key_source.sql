-- Whose key paid: "sidebar" (the person's own key, pasted for their session), "environment" or "secrets.toml"
-- (the server's key: the team's spend) or "demo". NULL for rows from before.
ALTER TABLE calls ADD COLUMN IF NOT EXISTS key_source TEXT;
