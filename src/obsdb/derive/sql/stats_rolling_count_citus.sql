-- Citus: how many statistics rows the scope has (see stats_rolling.sql). Run after
-- stats_rolling_citus.sql and stats_rolling_delete_citus.sql in the same transaction, that is
-- exactly the computed set. Params as stats_rolling.sql. Answers (computed).
SELECT count(*)
FROM analysis_rolling_stats t
WHERE t.symbol = ANY(%(symbols)s::text[]) AND t.source_table = %(source_table)s
  AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
  AND t.window_minutes = ANY(ARRAY[%(w1)s, %(w2)s, %(w3)s, %(w4)s, %(w5)s]::smallint[])
  AND ((%(froms)s::timestamptz[])[array_position(%(symbols)s::text[], t.symbol)] IS NULL
       OR t.bar_time >= (%(froms)s::timestamptz[])[array_position(%(symbols)s::text[], t.symbol)])
