-- Partitions of one table that end at or before the cutoff (now() minus the kept window), oldest
-- first, with the planner's row estimate. A converted table's first partition starts at -infinity,
-- which Python cannot hold: it reads as NULL.
SELECT p.part::text AS partition_name,
       nullif(p.range_start, '-infinity') AS range_start,
       p.range_end,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows,  -- NULL: never analysed
       now() - make_interval(days => %(keep_days)s) AS cutoff
FROM obsdb_partitions(%(table)s::regclass) AS p
JOIN pg_class c ON c.oid = p.part
WHERE p.range_end <= now() - make_interval(days => %(keep_days)s)
ORDER BY p.range_end
