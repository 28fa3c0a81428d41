-- gaps_symbol.sql for symbols recomputed from an anchor each (gaps_symbol_anchor.sql): the gaps of
-- a symbol that start before its anchor are unchanged, so only its ticks from the anchor on are
-- read, by the key (symbol, event_time), and only its gaps starting at or after the anchor are
-- written or deleted. The anchors lie after the open (no open point). Params: symbols, starts
-- (text[], timestamptz[]); lo, hi, open, close, threshold, feed_lo, feed_hi, now as gaps_symbol.sql.
-- Answers one row: (written, deleted, computed).
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi), session s
    WHERE f.gap_lo >= s.open AND f.gap_lo <= s.close
),
todo AS (
    SELECT p.symbol, p.start FROM unnest(%(symbols)s::text[], %(starts)s::timestamptz[]) AS p (symbol, start)
    WHERE p.symbol <> '*'
),
points AS (
    -- gaps_symbol.sql's buckets; the GROUP BY keeps the lateral a per-symbol range scan of the key
    SELECT p.symbol, x.t
    FROM todo p
    CROSS JOIN LATERAL (
        SELECT min(t.event_time) AS first_ts, max(t.event_time) AS last_ts
        FROM scalp_ticks t
        WHERE t.symbol = p.symbol AND t.event_time >= p.start
          AND t.event_time >= %(open)s::timestamptz AND t.event_time <= %(close)s::timestamptz
        GROUP BY date_bin(make_interval(secs => %(threshold)s), t.event_time, %(open)s::timestamptz)) b
    CROSS JOIN LATERAL (VALUES (b.first_ts), (b.last_ts)) AS x (t)
    UNION ALL SELECT p.symbol, s.close FROM todo p, session s
),
edges AS (
    SELECT symbol, lag(t) OVER (PARTITION BY symbol ORDER BY t) AS gap_start_ts, t AS gap_end_ts FROM points
),
want AS (
    SELECT e.symbol, e.gap_start_ts, e.gap_end_ts,
           round(extract(epoch FROM e.gap_end_ts - e.gap_start_ts), 3) AS gap_seconds,
           CASE WHEN EXISTS (SELECT 1 FROM feed f WHERE f.gap_lo < e.gap_end_ts AND f.gap_hi > e.gap_start_ts)
                THEN 'collector_down' ELSE 'no_trades' END AS reason
    FROM edges e
    WHERE e.gap_end_ts > e.gap_start_ts
      AND e.gap_end_ts - e.gap_start_ts > make_interval(secs => %(threshold)s)
)
, gone AS (
    DELETE FROM scalp_gaps g
    USING todo p
    WHERE g.origin = 'derived' AND g.scope = 'symbol' AND g.symbol = p.symbol
      AND g.gap_start_ts >= p.start AND g.gap_start_ts < %(hi)s::timestamptz
      AND NOT EXISTS (SELECT 1 FROM want w
                      WHERE w.symbol = g.symbol AND w.gap_start_ts = g.gap_start_ts)
    RETURNING 1
),
put AS (
    INSERT INTO scalp_gaps AS g (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin, computed_at)
    SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, 'symbol', reason, 'derived', %(now)s::timestamptz
    FROM want
    ON CONFLICT (symbol, gap_start_ts, scope, origin) DO UPDATE
        SET gap_end_ts = EXCLUDED.gap_end_ts, gap_seconds = EXCLUDED.gap_seconds,
            reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
        WHERE (g.gap_end_ts, g.gap_seconds, g.reason)
              IS DISTINCT FROM (EXCLUDED.gap_end_ts, EXCLUDED.gap_seconds, EXCLUDED.reason)
    RETURNING 1
)
SELECT (SELECT count(*) FROM put), (SELECT count(*) FROM gone), (SELECT count(*) FROM want)
