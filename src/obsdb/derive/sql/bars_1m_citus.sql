-- Citus form of bars_1m.sql (chosen in code when the citus extension is installed; same rows).
-- On Citus a CTE used more than once becomes a coordinator-side intermediate result, and a
-- correlated subquery against it is refused: here every CTE is used once (feed seconds by a LATERAL
-- over the feed arrays), so the INSERT runs on the workers, shard by shard. Stale bars are removed
-- by bars_1m_delete_citus.sql and the computed count read by bars_1m_count_citus.sql, in the same
-- transaction. Params as bars_1m.sql. Answers (symbol, written, first written bar_time).
WITH ticks AS (
    SELECT symbol, date_bin('1 minute', coalesce(exchange_time, event_time), %(lo)s::timestamptz) AS bar_time,
           coalesce(exchange_time, event_time) AS t, event_time, last_price, cum_volume, volume
    FROM scalp_ticks
    -- event_time bounds prune partitions and use the key; the tick's own time decides its day
    WHERE symbol = ANY(%(symbols)s::text[])
      AND event_time >= %(lo)s::timestamptz - interval '1 hour'
      AND event_time < %(hi)s::timestamptz + interval '1 hour'
      AND coalesce(exchange_time, event_time) >= %(lo)s::timestamptz
      AND coalesce(exchange_time, event_time) < %(hi)s::timestamptz
      AND last_price IS NOT NULL
      AND quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)'
      AND %(close)s::timestamptz IS NOT NULL
),
ordered AS (
    SELECT symbol, bar_time, last_price, cum_volume, volume,
           first_value(last_price) OVER b AS open_price,
           last_value(last_price) OVER b AS close_price,
           -- partitioned by nullness too: first/last of the ticks that carry a cumulative volume
           first_value(cum_volume) OVER c AS first_cum,
           last_value(cum_volume) OVER c AS last_cum
    FROM ticks
    WINDOW b AS (PARTITION BY symbol, bar_time ORDER BY t, event_time
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
           c AS (PARTITION BY symbol, bar_time, cum_volume IS NULL ORDER BY t, event_time
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
buckets AS (
    SELECT symbol, bar_time,
           min(open_price) AS open, max(last_price) AS high, min(last_price) AS low,
           min(close_price) AS close, count(*) AS tick_count,  -- min() of a per-bucket constant
           min(first_cum) FILTER (WHERE cum_volume IS NOT NULL) AS first_cum,
           min(last_cum) FILTER (WHERE cum_volume IS NOT NULL) AS last_cum,
           sum(volume) FILTER (WHERE cum_volume IS NULL) AS own_volume
    FROM ordered
    GROUP BY symbol, bar_time
),
carried AS (
    -- the last non-NULL last_cum up to each bucket: a group starts at every non-NULL value
    SELECT *, first_value(last_cum) OVER (PARTITION BY symbol, grp ORDER BY bar_time) AS carry
    FROM (SELECT *, count(last_cum) OVER (PARTITION BY symbol ORDER BY bar_time) AS grp FROM buckets) g
),
volumes AS (
    SELECT *,
           CASE WHEN last_cum IS NOT NULL THEN last_cum - coalesce(prev_cum, first_cum)
                ELSE own_volume END AS raw_volume,
           last_cum IS NOT NULL AND prev_cum IS NULL AS partial
    FROM (SELECT *, lag(carry) OVER (PARTITION BY symbol ORDER BY bar_time) AS prev_cum FROM carried) p
),
computed AS (
    SELECT v.symbol, v.bar_time, v.open, v.high, v.low, v.close,
           CASE WHEN v.raw_volume >= 0 THEN v.raw_volume END::bigint AS volume,
           v.tick_count::integer AS tick_count,
           round(1 - coalesce(s.seconds, 0) / 60, 4) AS coverage_ratio,
           coalesce(nullif(array_to_string(ARRAY[
               CASE WHEN v.bar_time > %(close)s::timestamptz THEN 'after_hours' END,
               CASE WHEN v.partial THEN 'partial' END,
               CASE WHEN v.raw_volume < 0 THEN 'volume_inconsistent' END], ','), ''), 'normal') AS quality_flag
    FROM volumes v LEFT JOIN LATERAL (
        SELECT sum(extract(epoch FROM least(f.gap_hi, v.bar_time + interval '1 minute')
                                      - greatest(f.gap_lo, v.bar_time))) AS seconds
        FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi)
        WHERE f.gap_lo < v.bar_time + interval '1 minute' AND f.gap_hi > v.bar_time) s ON true
),
written AS (
    INSERT INTO scalp_1m_bars AS b
        (symbol, bar_time, origin, open, high, low, close, volume, tick_count, coverage_ratio, quality_flag,
         computed_at)
    SELECT c.symbol, c.bar_time, 'derived', c.open, c.high, c.low, c.close, c.volume, c.tick_count,
           c.coverage_ratio, c.quality_flag, %(now)s::timestamptz
    FROM computed c
    -- no pre-filter of equal rows: on Citus it stops shard pruning; ON CONFLICT's WHERE keeps
    -- equal rows unwritten
    ON CONFLICT (symbol, bar_time, origin) DO UPDATE
    SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, tick_count = EXCLUDED.tick_count, coverage_ratio = EXCLUDED.coverage_ratio,
        quality_flag = EXCLUDED.quality_flag, computed_at = EXCLUDED.computed_at
    WHERE (b.open, b.high, b.low, b.close, b.volume, b.tick_count, b.coverage_ratio, b.quality_flag)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume,
                            EXCLUDED.tick_count, EXCLUDED.coverage_ratio, EXCLUDED.quality_flag)
    RETURNING b.symbol, b.bar_time
)
SELECT symbol, count(*), min(bar_time) FROM written GROUP BY symbol
