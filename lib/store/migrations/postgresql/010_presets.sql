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
SELECT 'chat.system_prompt', 'local', j.key, j.value::text, 'Local user', s.updated_at
FROM settings AS s
CROSS JOIN LATERAL json_each(CASE WHEN json_typeof(s.value::json) = 'object' THEN s.value::json ELSE '{}'::json END) AS j
WHERE s.key = 'chat.system_prompts' AND json_typeof(j.value) = 'string'
ON CONFLICT (kind, person, name) DO NOTHING;
DELETE FROM settings WHERE key = 'chat.system_prompts';
