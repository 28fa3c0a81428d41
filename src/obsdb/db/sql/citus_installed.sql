-- The citus extension's version in this database (no row on plain PostgreSQL). Cheap: status and
-- init ask it on every run.
SELECT extversion FROM pg_extension WHERE extname = 'citus'
