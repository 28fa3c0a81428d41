-- The bars rolling statistics read (derive/windows.py sums their windows): one KST day of the
-- symbols of %(symbols)s in the bar table {bars} (an identifier chosen by code from a fixed
-- mapping), one bar per (symbol, bar_time): the first origin of %(origins)s (most trusted first)
-- wins. The whole day, whatever a symbol's since: its windows and returns reach back into it.
-- Answers six arrays in one row, read in binary: the symbol's 1-based index in %(symbols)s,
-- bar_time, high, low, close and volume (-1: none; the table's checks keep it >= 0). In no order
-- (one aggregation: the arrays' elements line up); the client sorts. No bar: one row of NULLs.
SELECT array_agg(b.i::integer), array_agg(b.bar_time), array_agg(b.high), array_agg(b.low), array_agg(b.close),
       array_agg(coalesce(b.volume, -1))
FROM (
    SELECT DISTINCT ON (b.symbol, b.bar_time) x.i, b.bar_time, b.high, b.low, b.close, b.volume
    FROM unnest(%(symbols)s::text[]) WITH ORDINALITY AS x (symbol, i)
    JOIN {bars} b ON b.symbol = x.symbol
    WHERE b.origin = ANY(%(origins)s::text[])
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
    ORDER BY b.symbol, b.bar_time, array_position(%(origins)s::text[], b.origin)
) b
