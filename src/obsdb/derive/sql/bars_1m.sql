-- 1-minute bars of a KST day, for every symbol of %(symbols)s at once, from the buckets
-- derive/minutes.py summed from the day's ticks (obsdb_bars_in, bars_1m_in_create.sql), written
-- minimally (docs/derive-bars.md). Params: symbols (text[]: obsdb_bars_in.s indexes it); lo, hi = the
-- KST day as [lo, hi); close = the session close (NULL: no trading day); feed_lo, feed_hi
-- (timestamptz[]) = the day's derived feed gaps, read once per day (they are cross-symbol), merged
-- into disjoint ranges; now = the transaction's time, for computed_at.
-- Answers one row per symbol: (symbol, written, deleted, computed, first written or deleted bar_time).
WITH volumes AS (
    SELECT (%(symbols)s::text[])[i.s] AS symbol, i.bar_time, i.open, i.high, i.low, i.close, i.tick_count,
           CASE WHEN i.has_volume THEN i.raw_volume END AS raw_volume, i.partial
    FROM obsdb_bars_in i
),
feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi)
),
silent AS (  -- seconds of each bar inside a feed gap (the gaps are disjoint, so their parts add up)
    SELECT v.symbol, v.bar_time,
           sum(extract(epoch FROM least(f.gap_hi, v.bar_time + interval '1 minute')
                                  - greatest(f.gap_lo, v.bar_time))) AS seconds
    FROM volumes v JOIN feed f ON f.gap_lo < v.bar_time + interval '1 minute' AND f.gap_hi > v.bar_time
    GROUP BY v.symbol, v.bar_time
),
computed AS (
    SELECT v.symbol COLLATE "default" AS symbol, v.bar_time, v.open, v.high, v.low, v.close,
           CASE WHEN v.raw_volume >= 0 THEN v.raw_volume END::bigint AS volume,
           v.tick_count::integer AS tick_count,
           round(1 - coalesce(s.seconds, 0) / 60, 4) AS coverage_ratio,
           coalesce(nullif(array_to_string(ARRAY[
               CASE WHEN v.bar_time > %(close)s::timestamptz THEN 'after_hours' END,
               CASE WHEN v.partial THEN 'partial' END,
               CASE WHEN v.raw_volume < 0 THEN 'volume_inconsistent' END], ','), ''), 'normal') AS quality_flag
    FROM volumes v LEFT JOIN silent s ON s.symbol = v.symbol AND s.bar_time = v.bar_time
),
existing AS (  -- the day's derived bars of these symbols now (none on a fresh day)
    SELECT b.symbol, b.bar_time, b.open, b.high, b.low, b.close, b.volume, b.tick_count, b.coverage_ratio,
           b.quality_flag
    FROM scalp_1m_bars b
    WHERE b.symbol = ANY(%(symbols)s::text[]) AND b.origin = 'derived'
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
),
-- New keys are a plain INSERT and changed bars an UPDATE, not one INSERT .. ON CONFLICT: its
-- speculative insertion costs a key probe and a WAL record more per row, and a fresh day is all
-- new bars. No one else writes these keys meanwhile: derive holds the day's lock (derive/run.py).
-- NOT IN / IN: hashed subplans whatever the CTE's row estimate (see deleted below).
inserted AS (
    INSERT INTO scalp_1m_bars
        (symbol, bar_time, origin, open, high, low, close, volume, tick_count, coverage_ratio, quality_flag,
         computed_at)
    SELECT c.symbol, c.bar_time, 'derived', c.open, c.high, c.low, c.close, c.volume, c.tick_count,
           c.coverage_ratio, c.quality_flag, %(now)s::timestamptz
    FROM computed c
    WHERE (c.symbol, c.bar_time) NOT IN (SELECT e.symbol, e.bar_time FROM existing e)
    RETURNING symbol, bar_time
),
updated AS (  -- only bars whose values changed: an equal bar is neither locked nor dirtied
    UPDATE scalp_1m_bars b
    SET open = c.open, high = c.high, low = c.low, close = c.close, volume = c.volume, tick_count = c.tick_count,
        coverage_ratio = c.coverage_ratio, quality_flag = c.quality_flag, computed_at = %(now)s::timestamptz
    FROM computed c
    -- EXISTS: a one-time filter, so a fresh day (no existing bars) probes no key at all
    WHERE EXISTS (SELECT FROM existing)
      AND (c.symbol, c.bar_time) IN (SELECT e.symbol, e.bar_time FROM existing e)
      AND b.symbol = c.symbol AND b.bar_time = c.bar_time AND b.origin = 'derived'
      -- the day's bounds again (every c.bar_time is inside them): without them the planner
      -- hashes the whole partition, a month of bars, to probe one day
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      AND (b.open, b.high, b.low, b.close, b.volume, b.tick_count, b.coverage_ratio, b.quality_flag)
          IS DISTINCT FROM (c.open, c.high, c.low, c.close, c.volume, c.tick_count, c.coverage_ratio,
                            c.quality_flag)
    RETURNING b.symbol, b.bar_time
),
written AS (SELECT symbol, bar_time FROM inserted UNION ALL SELECT symbol, bar_time FROM updated),
deleted AS (
    DELETE FROM scalp_1m_bars b
    WHERE b.symbol = ANY(%(symbols)s::text[]) AND b.origin = 'derived'
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      -- NOT IN, not NOT EXISTS: a hashed subplan whatever the CTE's row estimate (an anti join
      -- estimated at 1 row was a nested loop of every bar against every bar: 27 s per day)
      AND (b.symbol, b.bar_time) NOT IN (SELECT c.symbol, c.bar_time FROM computed c)
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
