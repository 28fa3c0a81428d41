-- Rows of one symbol, KST day and source whose window length that source does not compute
-- (e.g. a 5-minute window over 10-minute bars). Parameters: symbol, day, source_table, windows.
DELETE FROM analysis_rolling_stats
WHERE symbol = %(symbol)s AND source_table = %(source_table)s
  AND window_minutes <> ALL(%(windows)s::integer[])
  AND bar_time >= (%(day)s::date)::timestamp AT TIME ZONE 'Asia/Seoul'
  AND bar_time < (%(day)s::date + 1)::timestamp AT TIME ZONE 'Asia/Seoul'
