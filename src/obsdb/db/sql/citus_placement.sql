-- How Citus holds each of our tables now: 'distributed' / 'reference' / 'local' (a citus local
-- table), the distribution column, the co-location group and the shard count. A table absent from
-- the result is a plain (coordinator-only) PostgreSQL table. %(tables)s: the names to look up.
SELECT c.relname::text, t.citus_table_type, t.distribution_column, t.colocation_id, t.shard_count
FROM citus_tables t
JOIN pg_class c ON c.oid = t.table_name
WHERE c.relname = ANY (%(tables)s::text[]) AND c.relnamespace = current_schema()::regnamespace
