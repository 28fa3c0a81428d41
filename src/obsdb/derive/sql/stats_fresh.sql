-- Whether the statistics of %(symbols)s over %(source_table)s on the KST day lo .. hi have no row
-- yet (derive/stats_copy.py: then the day's rows are copied in whole). Every window length the
-- table allows, so rows of a length the source no longer computes count too; the key's symbol and
-- window_minutes bound make it one short index range per symbol and length.
SELECT NOT EXISTS (
    SELECT FROM analysis_rolling_stats t
    WHERE t.symbol = ANY(%(symbols)s::text[]) AND t.source_table = %(source_table)s
      AND t.window_minutes = ANY('{5,10,30,60,240}'::integer[])
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
)
