-- Prompt search without reading every row: an FTS5 index of the three prompt columns with the trigram
-- tokenizer (SQLite 3.34+), which answers "contains this text" (case-insensitive) for needles of 3 or more
-- characters; shorter needles keep the plain LIKE scan. External content: the text stays in calls only, and
-- these triggers keep the index in step with every insert, settle and delete.
CREATE VIRTUAL TABLE IF NOT EXISTS calls_search USING fts5(
    prompt, revised_prompt, negative_prompt, content='calls', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS calls_search_insert AFTER INSERT ON calls BEGIN
    INSERT INTO calls_search (rowid, prompt, revised_prompt, negative_prompt)
    VALUES (new.rowid, new.prompt, new.revised_prompt, new.negative_prompt);
END;
CREATE TRIGGER IF NOT EXISTS calls_search_delete AFTER DELETE ON calls BEGIN
    INSERT INTO calls_search (calls_search, rowid, prompt, revised_prompt, negative_prompt)
    VALUES ('delete', old.rowid, old.prompt, old.revised_prompt, old.negative_prompt);
END;
CREATE TRIGGER IF NOT EXISTS calls_search_update AFTER UPDATE OF prompt, revised_prompt, negative_prompt ON calls BEGIN
    INSERT INTO calls_search (calls_search, rowid, prompt, revised_prompt, negative_prompt)
    VALUES ('delete', old.rowid, old.prompt, old.revised_prompt, old.negative_prompt);
    INSERT INTO calls_search (rowid, prompt, revised_prompt, negative_prompt)
    VALUES (new.rowid, new.prompt, new.revised_prompt, new.negative_prompt);
END;
INSERT INTO calls_search (calls_search) VALUES ('rebuild');
