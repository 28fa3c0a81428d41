-- Rows of the given symbols, KST day and source whose window length that source does not compute
-- (e.g. a 5-minute window over 10-minute bars). Params: symbols (text[]), lo, hi = the KST day,
-- source_table, windows (integer[]).
DELETE FROM analysis_rolling_stats
WHERE symbol = ANY(%(symbols)s::text[]) AND source_table = %(source_table)s
  AND window_minutes <> ALL(%(windows)s::integer[])
  AND bar_time >= %(lo)s::timestamptz AND bar_time < %(hi)s::timestamptz
