-- One shard's first and last time by the loose index scan (run by run_command_on_shards, which puts
-- the shard's name in for %1$s); {col} is the time column, composed by obsdb from its fixed table list.
WITH RECURSIVE syms(s) AS (
    SELECT min(symbol) FROM %1$s
    UNION ALL
    SELECT (SELECT min(symbol) FROM %1$s WHERE symbol > syms.s) FROM syms WHERE syms.s IS NOT NULL
)
SELECT coalesce(min(x.lo)::text, '') || '|' || coalesce(max(x.hi)::text, '')
FROM syms, LATERAL (SELECT min({col}) AS lo, max({col}) AS hi FROM %1$s WHERE symbol = syms.s) AS x
WHERE syms.s IS NOT NULL
