-- When a day's feed gaps change, only the coverage of the bars they cover can change: OHLC, volume
-- and flags come from a symbol's own rows (docs/derive-bars.md). This refreshes coverage_ratio of
-- every derived 1-minute bar and tick-made 10-minute bar of the day that overlaps a changed stretch,
-- with the same formula as bars_1m.sql / bars_10m.sql. Params: lo, hi = the KST day; changed_lo,
-- changed_hi (timestamptz[]) = where the union of feed gaps changed; feed_lo, feed_hi = the day's
-- feed gaps now (merged, disjoint); skip_1m, skip_10m (text[]) = symbols whose bars this day's derive rebuilds whole
-- anyway; now = for computed_at.
-- Answers one row per symbol considered: (symbol, written 1m, computed 1m, written 10m, computed 10m).
WITH feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi)
),
changed AS (
    SELECT c.lo, c.hi FROM unnest(%(changed_lo)s::timestamptz[], %(changed_hi)s::timestamptz[]) AS c (lo, hi)
),
envelope AS (SELECT min(lo) AS lo, max(hi) AS hi FROM changed),
bars AS (  -- (table, symbol, bar_time, bar length, coverage now)
    SELECT 1 AS minutes, b.symbol, b.bar_time, b.coverage_ratio
    FROM scalp_1m_bars b, envelope e
    WHERE b.origin = 'derived' AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      AND b.bar_time > e.lo - interval '1 minute' AND b.bar_time < e.hi
      AND NOT b.symbol = ANY(%(skip_1m)s::text[])
    UNION ALL
    SELECT 10, b.symbol, b.bar_time, b.coverage_ratio
    FROM swing_bars_10m b, envelope e
    WHERE b.origin = 'ticks' AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      AND b.bar_time > e.lo - interval '10 minutes' AND b.bar_time < e.hi
      AND NOT b.symbol = ANY(%(skip_10m)s::text[])
),
affected AS (
    SELECT b.* FROM bars b
    WHERE EXISTS (SELECT 1 FROM changed c
                  WHERE c.lo < b.bar_time + b.minutes * interval '1 minute' AND c.hi > b.bar_time)
),
silent AS (
    SELECT a.minutes, a.symbol, a.bar_time,
           sum(extract(epoch FROM least(f.gap_hi, a.bar_time + a.minutes * interval '1 minute')
                                  - greatest(f.gap_lo, a.bar_time))) AS seconds
    FROM affected a JOIN feed f
      ON f.gap_lo < a.bar_time + a.minutes * interval '1 minute' AND f.gap_hi > a.bar_time
    GROUP BY a.minutes, a.symbol, a.bar_time
),
wanted AS (
    SELECT a.minutes, a.symbol, a.bar_time, a.coverage_ratio AS old,
           round(1 - coalesce(s.seconds, 0) / (60 * a.minutes), 4) AS coverage_ratio
    FROM affected a
    LEFT JOIN silent s ON s.minutes = a.minutes AND s.symbol = a.symbol AND s.bar_time = a.bar_time
),
one AS (
    UPDATE scalp_1m_bars b SET coverage_ratio = w.coverage_ratio, computed_at = %(now)s::timestamptz
    FROM wanted w
    WHERE w.minutes = 1 AND b.symbol = w.symbol AND b.bar_time = w.bar_time AND b.origin = 'derived'
      AND b.coverage_ratio IS DISTINCT FROM w.coverage_ratio
    RETURNING b.symbol
),
ten AS (
    UPDATE swing_bars_10m b SET coverage_ratio = w.coverage_ratio, computed_at = %(now)s::timestamptz
    FROM wanted w
    WHERE w.minutes = 10 AND b.symbol = w.symbol AND b.bar_time = w.bar_time AND b.origin = 'ticks'
      AND b.coverage_ratio IS DISTINCT FROM w.coverage_ratio
    RETURNING b.symbol
),
counts AS (
    SELECT symbol, 1 AS minutes, 1 AS written, 0 AS computed FROM one
    UNION ALL SELECT symbol, 10, 1, 0 FROM ten
    UNION ALL SELECT symbol, minutes, 0, 1 FROM wanted
)
SELECT symbol,
       sum(written) FILTER (WHERE minutes = 1), sum(computed) FILTER (WHERE minutes = 1),
       sum(written) FILTER (WHERE minutes = 10), sum(computed) FILTER (WHERE minutes = 10)
FROM counts
GROUP BY symbol
