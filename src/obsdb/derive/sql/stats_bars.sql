-- The bars rolling statistics read (derive/windows.py sums their windows): one KST day of the
-- symbols of %(symbols)s in the bar table {bars} (an identifier chosen by code from a fixed
-- mapping), one bar per (symbol, bar_time): the first origin of %(origins)s (most trusted first)
-- wins. The whole day, whatever a symbol's since: its windows and returns reach back into it.
-- Answers (symbol, bar_time, microseconds into the day, high, low, close, volume), sorted.
SELECT DISTINCT ON (b.symbol, b.bar_time)
       b.symbol, b.bar_time, (extract(epoch FROM b.bar_time - %(lo)s::timestamptz) * 1000000)::bigint,
       b.high, b.low, b.close, b.volume
FROM {bars} b
WHERE b.symbol = ANY(%(symbols)s::text[])
  AND b.origin = ANY(%(origins)s::text[])
  AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
ORDER BY b.symbol, b.bar_time, array_position(%(origins)s::text[], b.origin)
