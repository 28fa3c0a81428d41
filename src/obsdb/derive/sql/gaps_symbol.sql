-- Symbol gaps of one symbol on one KST day: silences longer than %(threshold)s seconds between
-- consecutive points of {open, the symbol's tick times in the session, close}. 'collector_down'
-- when a derived feed gap of the session overlaps the silence (shares more than an instant),
-- else 'no_trades'. No session (open NULL): no rows. Followed by gaps_sync.sql (a CTE "want").
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
points AS (
    SELECT t.event_time AS t
    FROM scalp_ticks t, session s
    WHERE t.symbol = %(symbol)s AND t.event_time >= s.open AND t.event_time <= s.close
    UNION ALL SELECT open FROM session
    UNION ALL SELECT close FROM session
),
edges AS (
    SELECT lag(t) OVER (ORDER BY t) AS gap_start_ts, t AS gap_end_ts FROM points
),
want AS (
    SELECT %(symbol)s::text AS symbol, e.gap_start_ts, e.gap_end_ts,
           round(extract(epoch FROM e.gap_end_ts - e.gap_start_ts), 3) AS gap_seconds,
           CASE WHEN EXISTS (
                    SELECT 1 FROM scalp_gaps f, session s
                    WHERE f.scope = 'feed' AND f.origin = 'derived' AND f.symbol IS NULL
                      AND f.gap_start_ts >= s.open AND f.gap_start_ts <= s.close
                      AND f.gap_start_ts < e.gap_end_ts AND f.gap_end_ts > e.gap_start_ts)
                THEN 'collector_down' ELSE 'no_trades' END AS reason
    FROM edges e
    WHERE e.gap_end_ts > e.gap_start_ts
      AND e.gap_end_ts - e.gap_start_ts > make_interval(secs => %(threshold)s)
)
