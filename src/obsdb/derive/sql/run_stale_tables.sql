-- The tables derive reads (every partition of them) whose planner statistics are missing or stale:
-- more than 50 rows plus 2 in a hundred of the table changed since the last ANALYZE (autovacuum
-- waits for a tenth). Without statistics (autovacuum off, or behind) the planner read a month of
-- ticks whole instead of a day through its BRIN index; with statistics that predate a day's load
-- (a day is 2-5 in a hundred of a month's partition), a symbol new that day is estimated at one
-- row, and its ticks were fetched one index entry at a time (15 GB of page reads for 2M ticks).
SELECT n.nspname, c.relname
FROM unnest(%(tables)s::text[]) AS r (name)
CROSS JOIN LATERAL pg_partition_tree(to_regclass(r.name)) t
JOIN pg_stat_user_tables s ON s.relid = t.relid
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.isleaf
  AND s.n_mod_since_analyze > 50 + 0.02 * greatest(c.reltuples, 0)
ORDER BY 1, 2
