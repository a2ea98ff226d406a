-- On SQLite this number added an index that migration 5 replaced; PostgreSQL goes straight to 5's.
SELECT 1;
