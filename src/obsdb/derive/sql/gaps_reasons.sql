-- When a day's feed gaps change, a symbol gap's edges do not (they come from the symbol's own
-- ticks), but its reason may: this re-asks "did a feed gap overlap it?" (gaps_symbol.sql's rule)
-- for every derived symbol gap of the day that overlaps a stretch where the feed gaps changed.
-- Params: lo, hi = the KST day; open, close = its session; changed_lo, changed_hi, feed_lo,
-- feed_hi (timestamptz[]); skip (text[]) = symbols whose gaps this derive rebuilds whole; now. Answers one row: (written, deleted, computed).
WITH feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi)
    WHERE f.gap_lo >= %(open)s::timestamptz AND f.gap_lo <= %(close)s::timestamptz
),
changed AS (
    SELECT c.lo, c.hi FROM unnest(%(changed_lo)s::timestamptz[], %(changed_hi)s::timestamptz[]) AS c (lo, hi)
),
affected AS (
    SELECT g.symbol, g.gap_start_ts, g.reason AS old,
           CASE WHEN EXISTS (SELECT 1 FROM feed f WHERE f.gap_lo < g.gap_end_ts AND f.gap_hi > g.gap_start_ts)
                THEN 'collector_down' ELSE 'no_trades' END AS reason
    FROM scalp_gaps g
    WHERE g.scope = 'symbol' AND g.origin = 'derived'
      AND g.gap_start_ts >= %(lo)s::timestamptz AND g.gap_start_ts < %(hi)s::timestamptz
      AND NOT g.symbol = ANY(%(skip)s::text[])
      AND EXISTS (SELECT 1 FROM changed c WHERE c.lo < g.gap_end_ts AND c.hi > g.gap_start_ts)
),
put AS (
    UPDATE scalp_gaps g SET reason = a.reason, computed_at = %(now)s::timestamptz
    FROM affected a
    WHERE g.symbol = a.symbol AND g.gap_start_ts = a.gap_start_ts AND g.scope = 'symbol' AND g.origin = 'derived'
      AND g.reason IS DISTINCT FROM a.reason
    RETURNING 1
)
SELECT (SELECT count(*) FROM put), 0, (SELECT count(*) FROM affected)
