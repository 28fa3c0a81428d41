-- Feed gaps of one KST day: stretches of the regular session [open, close] with no tick from any
-- symbol (any quality_flag) lasting at least %(threshold)s seconds. No session (open NULL): no rows.
-- Followed by gaps_sync.sql (this query ends with the CTE "want").
--
-- Exact without sorting every tick: ticks are binned into buckets as wide as the threshold (a hash
-- aggregate keeps only each bucket's first and last tick). Two consecutive ticks in one bucket are
-- less than the threshold apart, so every qualifying silence runs from one non-empty bucket's last
-- tick to the next non-empty bucket's first tick. The open and the close join as pseudo-buckets;
-- kind tells them (-1 open, 1 close) from ticks (0), which names the reason. Ties give zero-length
-- edges, which never qualify.
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
buckets AS (
    SELECT min(t.event_time) AS first_ts, max(t.event_time) AS last_ts, 0 AS kind
    FROM scalp_ticks t, session s
    WHERE t.event_time >= s.open AND t.event_time <= s.close
    GROUP BY date_bin(make_interval(secs => %(threshold)s), t.event_time, s.open)
    UNION ALL SELECT open, open, -1 FROM session
    UNION ALL SELECT close, close, 1 FROM session
),
edges AS (
    SELECT lag(last_ts) OVER w AS gap_start_ts, lag(kind) OVER w AS start_kind,
           first_ts AS gap_end_ts, kind AS end_kind
    FROM buckets
    WINDOW w AS (ORDER BY first_ts, kind)
),
want AS (
    SELECT NULL::text AS symbol, gap_start_ts, gap_end_ts,
           round(extract(epoch FROM gap_end_ts - gap_start_ts), 3) AS gap_seconds,
           CASE WHEN start_kind = -1 AND end_kind = 1 THEN 'no_data'
                WHEN start_kind = -1 THEN 'before_first_tick'
                WHEN end_kind = 1 THEN 'after_last_tick'
                ELSE 'outage' END AS reason
    FROM edges
    WHERE gap_end_ts > gap_start_ts
      AND gap_end_ts - gap_start_ts >= make_interval(secs => %(threshold)s)
)
