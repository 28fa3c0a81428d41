-- 10-minute bars of a KST day for every symbol of %(symbols)s at once, written minimally
-- (docs/derive-bars.md): from a symbol's derived 1-minute bars when it has any that day (origin
-- 'ticks'), else reconstructed from its swing snapshots (origin 'snapshots'). Params: symbols
-- (text[]); lo, hi = the KST day as [lo, hi); open, close = the regular session (NULL: no trading
-- day); feed_lo, feed_hi (timestamptz[]) = the day's derived feed gaps, merged into disjoint
-- ranges; now = for computed_at.
-- Answers one row per symbol: (symbol, written, deleted, computed, first written or deleted bar_time).
WITH minutes AS (
    SELECT symbol, date_bin('10 minutes', bar_time, %(lo)s::timestamptz) AS bucket, bar_time, open, high, low,
           close, volume, quality_flag,
           first_value(open) OVER w AS first_open, last_value(close) OVER w AS last_close
    FROM scalp_1m_bars
    WHERE symbol = ANY(%(symbols)s::text[]) AND origin = 'derived'
      AND bar_time >= %(lo)s::timestamptz AND bar_time < %(hi)s::timestamptz
    WINDOW w AS (PARTITION BY symbol, date_bin('10 minutes', bar_time, %(lo)s::timestamptz) ORDER BY bar_time
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
minute_buckets AS (
    SELECT symbol, bucket, min(first_open) AS open, max(high) AS high, min(low) AS low, min(last_close) AS close,
           CASE WHEN count(volume) = count(*) THEN sum(volume) END::bigint AS volume,
           count(*)::integer AS bar_count,
           -- <> 'normal' first: most bars are, and then no regular expression runs
           bool_or(quality_flag <> 'normal' AND quality_flag ~ '(^|,)after_hours(,|$)') AS after_hours,
           bool_or(quality_flag <> 'normal' AND quality_flag ~ '(^|,)partial(,|$)') AS partial,
           bool_or(quality_flag <> 'normal' AND quality_flag ~ '(^|,)volume_inconsistent(,|$)') AS volume_inconsistent
    FROM minutes
    GROUP BY symbol, bucket
),
feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi)
),
silent AS (  -- seconds of each bucket inside a feed gap (the gaps are disjoint)
    SELECT m.symbol, m.bucket,
           sum(extract(epoch FROM least(f.gap_hi, m.bucket + interval '10 minutes')
                                  - greatest(f.gap_lo, m.bucket))) AS seconds
    FROM minute_buckets m JOIN feed f ON f.gap_lo < m.bucket + interval '10 minutes' AND f.gap_hi > m.bucket
    GROUP BY m.symbol, m.bucket
),
from_minutes AS (
    SELECT m.symbol, m.bucket AS bar_time, 'ticks'::text AS origin, m.open, m.high, m.low, m.close, m.volume,
           m.bar_count,
           round(1 - coalesce(s.seconds, 0) / 600, 4) AS coverage_ratio,
           NULL::bigint AS bid_price, NULL::bigint AS ask_price,
           coalesce(nullif(array_to_string(ARRAY[
               CASE WHEN m.after_hours THEN 'after_hours' END,
               CASE WHEN m.partial THEN 'partial' END,
               CASE WHEN m.volume_inconsistent THEN 'volume_inconsistent' END], ','), ''), 'normal') AS quality_flag
    FROM minute_buckets m LEFT JOIN silent s ON s.symbol = m.symbol AND s.bucket = m.bucket
),
snaps AS (
    -- only in-session polls of a trading day: weekend and pre-open polls repeat old values; only
    -- symbols without 1-minute bars that day
    SELECT p.symbol, date_bin('10 minutes', p.snapshot_time, %(lo)s::timestamptz) AS bucket, p.snapshot_time,
           p.price, p.cum_volume, p.bid_price, p.ask_price,
           row_number() OVER d AS seq,
           CASE WHEN p.day_high > lag(p.day_high) OVER d THEN p.day_high END AS new_high,
           CASE WHEN p.day_low < lag(p.day_low) OVER d THEN p.day_low END AS new_low,
           coalesce(lag(p.price) OVER d, p.price) AS open_candidate
    FROM swing_snapshots p
    WHERE p.symbol = ANY(%(symbols)s::text[])
      AND p.snapshot_time >= %(open)s::timestamptz AND p.snapshot_time < %(close)s::timestamptz
      AND p.price IS NOT NULL
      AND p.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)'
      AND NOT EXISTS (SELECT 1 FROM minute_buckets m WHERE m.symbol = p.symbol)
    WINDOW d AS (PARTITION BY p.symbol ORDER BY p.snapshot_time)
),
snaps_ordered AS (
    SELECT *,
           first_value(open_candidate) OVER b AS bar_open, last_value(price) OVER b AS bar_close,
           last_value(bid_price) OVER b AS last_bid, last_value(ask_price) OVER b AS last_ask,
           first_value(cum_volume) OVER c AS first_cum, last_value(cum_volume) OVER c AS last_cum
    FROM snaps
    WINDOW b AS (PARTITION BY symbol, bucket ORDER BY snapshot_time
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
           c AS (PARTITION BY symbol, bucket, cum_volume IS NULL ORDER BY snapshot_time
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
snap_buckets AS (
    SELECT symbol, bucket, min(bar_open) AS open, min(bar_close) AS close,  -- min() of a per-bucket constant
           -- the prices seen (open included) and any day extreme set since the previous poll; the
           -- open and close are inside by construction, so the CHECK constraint always holds
           greatest(min(bar_open), max(price), max(new_high)) AS high,
           least(min(bar_open), min(price), min(new_low)) AS low,
           count(*) AS bar_count, min(last_bid) AS bid_price, min(last_ask) AS ask_price,
           bool_or(seq = 1) AS first_of_day,
           min(first_cum) FILTER (WHERE cum_volume IS NOT NULL) AS first_cum,
           min(last_cum) FILTER (WHERE cum_volume IS NOT NULL) AS last_cum
    FROM snaps_ordered
    GROUP BY symbol, bucket
),
snap_volumes AS (
    SELECT *, last_cum - coalesce(prev_cum, first_cum) AS raw_volume,
           first_of_day OR (last_cum IS NOT NULL AND prev_cum IS NULL) AS partial
    FROM (SELECT *, lag(carry) OVER (PARTITION BY symbol ORDER BY bucket) AS prev_cum
          FROM (SELECT *, first_value(last_cum) OVER (PARTITION BY symbol, grp ORDER BY bucket) AS carry
                FROM (SELECT *, count(last_cum) OVER (PARTITION BY symbol ORDER BY bucket) AS grp
                      FROM snap_buckets) g) c) p
),
from_snapshots AS (
    SELECT symbol, bucket AS bar_time, 'snapshots'::text AS origin, open, high, low, close,
           CASE WHEN raw_volume >= 0 THEN raw_volume END::bigint AS volume,
           bar_count::integer AS bar_count,
           NULL::numeric AS coverage_ratio,  -- the tick feed's gaps say nothing about polling
           bid_price, ask_price,
           array_to_string(ARRAY[CASE WHEN partial THEN 'partial' END, 'reconstructed',
                                 CASE WHEN raw_volume < 0 THEN 'volume_inconsistent' END], ',') AS quality_flag
    FROM snap_volumes
),
computed AS (
    SELECT * FROM from_minutes UNION ALL SELECT * FROM from_snapshots
),
written AS (
    INSERT INTO swing_bars_10m AS b
        (symbol, bar_time, origin, open, high, low, close, volume, bar_count, coverage_ratio, bid_price,
         ask_price, quality_flag, computed_at)
    SELECT c.symbol, c.bar_time, c.origin, c.open, c.high, c.low, c.close, c.volume, c.bar_count,
           c.coverage_ratio, c.bid_price, c.ask_price, c.quality_flag, %(now)s::timestamptz
    FROM computed c
    -- skip equal rows up front: ON CONFLICT would still lock (and dirty) them
    WHERE NOT EXISTS (
        SELECT 1 FROM swing_bars_10m b
        WHERE b.symbol = c.symbol AND b.bar_time = c.bar_time AND b.origin = c.origin
          -- the day's bounds again (every c.bar_time is inside them): without them the planner
          -- hashes the whole partition, a month of bars, to probe one day
          AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
          AND (b.open, b.high, b.low, b.close, b.volume, b.bar_count, b.coverage_ratio, b.bid_price,
               b.ask_price, b.quality_flag)
              IS NOT DISTINCT FROM (c.open, c.high, c.low, c.close, c.volume, c.bar_count, c.coverage_ratio,
                                    c.bid_price, c.ask_price, c.quality_flag))
    ON CONFLICT (symbol, bar_time, origin) DO UPDATE
    SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, bar_count = EXCLUDED.bar_count, coverage_ratio = EXCLUDED.coverage_ratio,
        bid_price = EXCLUDED.bid_price, ask_price = EXCLUDED.ask_price, quality_flag = EXCLUDED.quality_flag,
        computed_at = EXCLUDED.computed_at
    WHERE (b.open, b.high, b.low, b.close, b.volume, b.bar_count, b.coverage_ratio, b.bid_price, b.ask_price,
           b.quality_flag)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume,
                            EXCLUDED.bar_count, EXCLUDED.coverage_ratio, EXCLUDED.bid_price, EXCLUDED.ask_price,
                            EXCLUDED.quality_flag)
    RETURNING b.symbol, b.bar_time
),
deleted AS (
    -- both derived origins: a day that gained ticks loses its snapshot bars, never the archived ones
    DELETE FROM swing_bars_10m b
    WHERE b.symbol = ANY(%(symbols)s::text[]) AND b.origin IN ('ticks', 'snapshots')
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      -- NOT IN: a hashed subplan whatever the CTE's row estimate (see bars_1m.sql)
      AND (b.symbol, b.bar_time, b.origin) NOT IN (SELECT c.symbol, c.bar_time, c.origin FROM computed c)
    RETURNING b.symbol, b.bar_time
),
changed AS (
    SELECT symbol, count(*) FILTER (WHERE w) AS written, count(*) FILTER (WHERE NOT w) AS deleted,
           min(bar_time) AS first_changed
    FROM (SELECT symbol, bar_time, true AS w FROM written
          UNION ALL SELECT symbol, bar_time, false FROM deleted) x
    GROUP BY symbol
),
made AS (
    SELECT symbol, count(*) AS computed FROM computed GROUP BY symbol
)
SELECT coalesce(m.symbol, x.symbol), coalesce(x.written, 0), coalesce(x.deleted, 0), coalesce(m.computed, 0),
       x.first_changed
FROM made m FULL JOIN changed x ON x.symbol = m.symbol
