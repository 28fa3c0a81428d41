-- Symbol gaps of a KST day for every symbol of %(symbols)s at once: silences longer than
-- %(threshold)s seconds between consecutive points of {open, the symbol's tick times in the session,
-- close}. 'collector_down' when a derived feed gap of the session overlaps the silence (shares more
-- than an instant), else 'no_trades'. No session (open NULL): no rows. Params: symbols (text[]); lo,
-- hi = the KST day; open, close = its session; threshold; feed_lo, feed_hi (timestamptz[]) = the
-- day's derived feed gaps, read once per day (cross-symbol, so never joined per symbol); now.
-- Then the day's derived gaps of this scope are made equal to "want", touching only what differs
-- (on the key (symbol, gap_start_ts, scope, origin); feed gaps have the symbol '*', migration 011);
-- archived gaps are never selected. Answers one row: (written, deleted, computed).
-- The big table is bounded by the parameters themselves, not by the session CTE's columns (a join
-- condition is unknown when planning: the whole month was read); a NULL open matches no row.
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
feed AS (
    SELECT f.gap_lo, f.gap_hi
    FROM unnest(%(feed_lo)s::timestamptz[], %(feed_hi)s::timestamptz[]) AS f (gap_lo, gap_hi), session s
    WHERE f.gap_lo >= s.open AND f.gap_lo <= s.close
),
points AS (
    -- Exact without sorting every tick (as gaps_feed.sql): a symbol's ticks are binned into buckets
    -- as wide as the threshold, and only each bucket's first and last tick are points. Two ticks of
    -- one bucket are less than the threshold apart, so every qualifying silence runs from one
    -- non-empty bucket's last tick to the next one's first, which are both kept; a bucket's own
    -- first-to-last edge never qualifies (a lone tick gives a zero-length edge).
    SELECT b.symbol, x.t
    FROM (SELECT t.symbol, min(t.event_time) AS first_ts, max(t.event_time) AS last_ts
          FROM scalp_ticks t
          WHERE t.symbol = ANY(%(symbols)s::text[])
            AND t.event_time >= %(open)s::timestamptz AND t.event_time <= %(close)s::timestamptz
          GROUP BY t.symbol, date_bin(make_interval(secs => %(threshold)s), t.event_time, %(open)s::timestamptz)) b
    CROSS JOIN LATERAL (VALUES (b.first_ts), (b.last_ts)) AS x (t)
    UNION ALL SELECT y.symbol, s.open FROM unnest(%(symbols)s::text[]) AS y (symbol), session s
    UNION ALL SELECT y.symbol, s.close FROM unnest(%(symbols)s::text[]) AS y (symbol), session s
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
      AND e.symbol <> '*'  -- the feed's symbol in scalp_gaps: a tick 'symbol' '*' gets no gaps
)
, gone AS (
    DELETE FROM scalp_gaps g
    WHERE g.origin = 'derived' AND g.scope = 'symbol'
      AND g.gap_start_ts >= %(lo)s::timestamptz AND g.gap_start_ts < %(hi)s::timestamptz
      AND g.symbol = ANY(%(symbols)s::text[])
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
