-- The BRIN indexes of obsdb's tables (the time index of every scalp_ticks and
-- analysis_rolling_stats partition), with their table: derive reads a day of ticks through them,
-- and a block range not yet summarised is read whole by every query. Answers (index, table schema, table name).
SELECT c.oid::regclass::text, n.nspname, t.relname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam AND a.amname = 'brin'
JOIN pg_class t ON t.oid = i.indrelid AND t.relkind = 'r'
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE t.relnamespace = current_schema()::regnamespace
