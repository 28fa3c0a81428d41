-- Signal outcomes of one KST day [lo, hi), set-based over all symbols at once (docs/portfolio.md).
-- Events taken: those of the given symbols (their bars may have changed) and any event of the day
-- whose outcome is missing or incomplete (e.g. events loaded after the day's ticks). Both come from
-- the day's range of analysis_signal_events_time_idx joined to the outcome's primary key.
-- Every join is on symbol and `res` is read once, so on Citus the INSERT runs on the workers (a CTE
-- read twice becomes a coordinator-side result whose LATERAL joins Citus refuses); how many events
-- are computed is counted before, by outcomes_count.sql. now() is a parameter, so ON CONFLICT SET
-- calls no function. One form for both engines. Answers (written).
WITH ev AS (
    SELECT e.symbol, e.event_time, e.signal_type,
           CASE WHEN e.direction = 'down' THEN -1 ELSE 1 END AS d,
           -- the event's minute bucket: KST minutes are UTC minutes (whole-hour offset)
           (date_trunc('minute', e.event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS b0
    FROM analysis_signal_events e
    LEFT JOIN analysis_signal_outcomes o
           ON o.symbol = e.symbol AND o.event_time = e.event_time AND o.signal_type = e.signal_type
    WHERE e.event_time >= %(lo)s::timestamptz AND e.event_time < %(hi)s::timestamptz
      AND (e.symbol = ANY(%(symbols)s::text[]) OR o.symbol IS NULL OR o.return_10m IS NULL)
),
px AS (
    -- the last trade of the day at or before the event that a bar would use
    SELECT ev.*, p.price, p.price_time
    FROM ev LEFT JOIN LATERAL (
        SELECT t.last_price AS price, t.event_time AS price_time FROM scalp_ticks t
        WHERE t.symbol = ev.symbol AND t.event_time >= %(lo)s::timestamptz AND t.event_time <= ev.event_time
          AND t.last_price > 0
          AND NOT (string_to_array(t.quality_flag, ',') && ARRAY['suspect', 'outside_session', 'non_trading_day'])
        ORDER BY t.event_time DESC LIMIT 1
    ) p ON true
),
hz AS (
    SELECT px.*, h.h, px.b0 + make_interval(mins => h.h) AS hb
    FROM px CROSS JOIN (VALUES (1), (5), (10)) h (h)
),
known AS (
    -- a horizon is known when a bar at or after it exists that day, or it reaches the session close
    SELECT hz.*,
           (hz.price IS NOT NULL AND (
               (%(close)s::timestamptz IS NOT NULL AND hz.hb >= %(close)s::timestamptz)
               OR EXISTS (SELECT 1 FROM scalp_1m_bars b
                          WHERE b.symbol = hz.symbol AND b.origin = 'derived'
                            AND b.bar_time >= hz.hb AND b.bar_time < %(hi)s::timestamptz))) AS ok,
           (SELECT b.close FROM scalp_1m_bars b
            WHERE b.symbol = hz.symbol AND b.origin = 'derived'
              AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time <= hz.hb
            ORDER BY b.bar_time DESC LIMIT 1) AS close_h,
           x.hi_max, x.lo_min
    FROM hz LEFT JOIN LATERAL (
        SELECT max(b.high) AS hi_max, min(b.low) AS lo_min FROM scalp_1m_bars b
        WHERE hz.h = 10 AND b.symbol = hz.symbol AND b.origin = 'derived'
          AND b.bar_time > hz.b0 AND b.bar_time <= hz.hb
    ) x ON true
),
res AS (
    SELECT symbol, event_time, signal_type,
           max(price) AS price_at_event, max(price_time) AS price_time,
           max(round(d * (close_h - price)::numeric / price, 8)) FILTER (WHERE h = 1 AND ok) AS return_1m,
           max(round(d * (close_h - price)::numeric / price, 8)) FILTER (WHERE h = 5 AND ok) AS return_5m,
           max(round(d * (close_h - price)::numeric / price, 8)) FILTER (WHERE h = 10 AND ok) AS return_10m,
           max(round(CASE WHEN d = 1 THEN (greatest(price, hi_max) - price)::numeric / price
                          ELSE (price - least(price, lo_min))::numeric / price END, 8))
               FILTER (WHERE h = 10 AND ok) AS mfe_10m,
           max(round(CASE WHEN d = 1 THEN (least(price, lo_min) - price)::numeric / price
                          ELSE (price - greatest(price, hi_max))::numeric / price END, 8))
               FILTER (WHERE h = 10 AND ok) AS mae_10m
    FROM known GROUP BY symbol, event_time, signal_type
),
written AS (
    INSERT INTO analysis_signal_outcomes AS o
        (symbol, event_time, signal_type, price_at_event, price_time, return_1m, return_5m, return_10m,
         mfe_10m, mae_10m, computed_at)
    SELECT r.symbol, r.event_time, r.signal_type, r.price_at_event, r.price_time, r.return_1m, r.return_5m,
           r.return_10m, r.mfe_10m, r.mae_10m, %(now)s::timestamptz
    FROM res r
    WHERE NOT EXISTS (
        SELECT 1 FROM analysis_signal_outcomes c
        WHERE c.symbol = r.symbol AND c.event_time = r.event_time AND c.signal_type = r.signal_type
          AND (c.price_at_event, c.price_time, c.return_1m, c.return_5m, c.return_10m, c.mfe_10m, c.mae_10m)
              IS NOT DISTINCT FROM
              (r.price_at_event, r.price_time, r.return_1m, r.return_5m, r.return_10m, r.mfe_10m, r.mae_10m))
    ON CONFLICT (symbol, event_time, signal_type) DO UPDATE
    SET price_at_event = EXCLUDED.price_at_event, price_time = EXCLUDED.price_time,
        return_1m = EXCLUDED.return_1m, return_5m = EXCLUDED.return_5m, return_10m = EXCLUDED.return_10m,
        mfe_10m = EXCLUDED.mfe_10m, mae_10m = EXCLUDED.mae_10m, computed_at = EXCLUDED.computed_at
    WHERE (o.price_at_event, o.price_time, o.return_1m, o.return_5m, o.return_10m, o.mfe_10m, o.mae_10m)
          IS DISTINCT FROM (EXCLUDED.price_at_event, EXCLUDED.price_time, EXCLUDED.return_1m, EXCLUDED.return_5m,
                            EXCLUDED.return_10m, EXCLUDED.mfe_10m, EXCLUDED.mae_10m)
    RETURNING 1
)
SELECT count(*) FROM written
