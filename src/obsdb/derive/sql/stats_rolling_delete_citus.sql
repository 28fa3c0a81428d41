-- Citus: the statistics rows of the scope (see stats_rolling.sql) whose bar is gone, or whose window
-- length the source does not compute. The bar is probed in {bars} itself on the distribution
-- column (not a list of the day's bars, which Citus would gather on the coordinator), so the
-- DELETE runs on the workers. Params as stats_rolling.sql. Answers (deleted).
WITH deleted AS (
    DELETE FROM analysis_rolling_stats t
    WHERE t.symbol = ANY(%(symbols)s::text[]) AND t.source_table = %(source_table)s
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (t.window_minutes <> ALL(array_remove(ARRAY[%(w1)s, %(w2)s, %(w3)s, %(w4)s, %(w5)s]::smallint[], NULL))
           OR ((%(froms)s::timestamptz[])[array_position(%(symbols)s::text[], t.symbol)] IS NULL
               OR t.bar_time >= (%(froms)s::timestamptz[])[array_position(%(symbols)s::text[], t.symbol)])
              AND NOT EXISTS (
                  SELECT 1 FROM {bars} b
                  WHERE b.symbol = t.symbol AND b.bar_time = t.bar_time AND b.origin = ANY(%(origins)s::text[])))
    RETURNING 1
)
SELECT count(*) FROM deleted
