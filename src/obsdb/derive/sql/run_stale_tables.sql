-- The tables derive reads (every partition of them) whose planner statistics are missing or stale
-- by autovacuum's own rule: more than 50 rows and a tenth of the table changed since the last ANALYZE. Where
-- autovacuum is off (or behind), a partition that was never analysed has no statistics at all, and
-- the planner reads a month of ticks whole instead of a day through its BRIN index.
SELECT n.nspname, c.relname
FROM unnest(%(tables)s::text[]) AS r (name)
CROSS JOIN LATERAL pg_partition_tree(to_regclass(r.name)) t
JOIN pg_stat_user_tables s ON s.relid = t.relid
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.isleaf
  AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
ORDER BY 1, 2
