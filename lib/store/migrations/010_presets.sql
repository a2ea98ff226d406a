-- Saved things (Chat's saved system prompts, and any later preset) belong to a person: a member sees and
-- changes only their own, admins anyone's (lib/presets.py). One row per (kind, person, name); value is JSON.
CREATE TABLE IF NOT EXISTS presets (
    kind        TEXT NOT NULL,
    person      TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    person_name TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (kind, person, name)
);
-- Earlier versions kept the saved system prompts as one team-wide setting: they were the local user's,
-- as every earlier row was, so they move to that person rather than being lost.
INSERT INTO presets (kind, person, name, value, person_name, updated_at)
SELECT 'chat.system_prompt', 'local', j.key, json_quote(j.value), 'Local user', s.updated_at
FROM (SELECT value, updated_at FROM settings WHERE key = 'chat.system_prompts') AS s,
     json_each(CASE WHEN json_valid(s.value) THEN (CASE WHEN json_type(s.value) = 'object' THEN s.value ELSE '{}' END)
               ELSE '{}' END) AS j
WHERE j.type = 'text'
ON CONFLICT (kind, person, name) DO NOTHING;
DELETE FROM settings WHERE key = 'chat.system_prompts';
