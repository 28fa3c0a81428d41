-- First and last time of a distributed table with a (symbol, time) key: the loose index scan of
-- queries.EXTENT_BY_SYMBOL run on every shard (Citus refuses a recursive CTE over the whole
-- table), combined here. %(command)s is citus_extent_shard.sql, run with each shard as %%1$s.
SELECT min(nullif(split_part(result, '|', 1), '')::timestamptz),
       max(nullif(split_part(result, '|', 2), '')::timestamptz)
FROM run_command_on_shards(%(table)s::regclass, %(command)s)
WHERE success
