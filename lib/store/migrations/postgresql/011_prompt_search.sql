-- Prompt search without reading every row: a pg_trgm GIN index on the three prompt columns, which ILIKE
-- (contains) uses for needles of 3 or more characters. CREATE EXTENSION needs a role allowed to: pg_trgm is a
-- trusted extension (PostgreSQL 13+), so the database's owner or any role with CREATE on it may; else a
-- superuser runs "CREATE EXTENSION pg_trgm;" first (deploy/README.md). Without the extension the migration
-- still completes and search stays a scan; deploy/README.md gives the statement that adds the index later.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE NOTICE USING MESSAGE = 'pg_trgm could not be installed (' || SQLERRM || '): prompt search reads every row';
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS calls_prompt_trgm ON calls USING gin '
                '(prompt gin_trgm_ops, revised_prompt gin_trgm_ops, negative_prompt gin_trgm_ops)';
    END IF;
END
$$;
