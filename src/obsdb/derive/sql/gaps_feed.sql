-- Feed gaps of one KST day: stretches of the regular session [open, close] with no tick from any
-- symbol (any quality_flag) lasting at least %(threshold)s seconds. No session (open NULL): no rows.
-- Params: lo, hi = the KST day; open, close = its session; threshold; now = for computed_at;
-- start = NULL for the whole day, or an increment's anchor after the open (gaps_feed_anchor.sql):
-- the gaps that start before it are unchanged, so only ticks from it on are read and only gaps
-- starting at or after it are written or deleted (no open pseudo-bucket then: the open is before).
-- Then the day's derived gaps of this scope are made equal to "want", touching only what differs
-- (on the key (symbol, gap_start_ts, scope, origin); feed gaps have the symbol '*', migration 011);
-- archived gaps are never selected. Answers one row: (written, deleted, computed).
--
-- Exact without sorting every tick: ticks are binned into buckets as wide as the threshold (a hash
-- aggregate keeps only each bucket's first and last tick). Two consecutive ticks in one bucket are
-- less than the threshold apart, so every qualifying silence runs from one non-empty bucket's last
-- tick to the next non-empty bucket's first tick. The open and the close join as pseudo-buckets;
-- kind tells them (-1 open, 1 close) from ticks (0), which names the reason. Ties give zero-length
-- edges, which never qualify.
-- The big table is bounded by the parameters themselves, not by the session CTE's columns (a join
-- condition is unknown when planning: the whole month was read); a NULL open matches no row.
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
buckets AS (
    SELECT min(t.event_time) AS first_ts, max(t.event_time) AS last_ts, 0 AS kind
    FROM scalp_ticks t
    WHERE t.event_time >= greatest(%(open)s::timestamptz, %(start)s::timestamptz)
      AND t.event_time <= %(close)s::timestamptz
    GROUP BY date_bin(make_interval(secs => %(threshold)s), t.event_time, %(open)s::timestamptz)
    UNION ALL SELECT open, open, -1 FROM session WHERE %(start)s::timestamptz IS NULL
    UNION ALL SELECT close, close, 1 FROM session
),
edges AS (
    SELECT lag(last_ts) OVER w AS gap_start_ts, lag(kind) OVER w AS start_kind,
           first_ts AS gap_end_ts, kind AS end_kind
    FROM buckets
    WINDOW w AS (ORDER BY first_ts, kind)
),
want AS (
    SELECT '*'::text AS symbol, gap_start_ts, gap_end_ts,
           round(extract(epoch FROM gap_end_ts - gap_start_ts), 3) AS gap_seconds,
           CASE WHEN start_kind = -1 AND end_kind = 1 THEN 'no_data'
                WHEN start_kind = -1 THEN 'before_first_tick'
                WHEN end_kind = 1 THEN 'after_last_tick'
                ELSE 'outage' END AS reason
    FROM edges
    WHERE gap_end_ts > gap_start_ts
      AND gap_end_ts - gap_start_ts >= make_interval(secs => %(threshold)s)
)
, gone AS (
    DELETE FROM scalp_gaps g
    WHERE g.origin = 'derived' AND g.scope = 'feed'
      AND g.symbol = '*' AND g.gap_start_ts >= coalesce(%(start)s::timestamptz, %(lo)s::timestamptz)
      AND g.gap_start_ts < %(hi)s::timestamptz
      AND NOT EXISTS (SELECT 1 FROM want w
                      WHERE w.symbol = g.symbol AND w.gap_start_ts = g.gap_start_ts)
    RETURNING 1
),
put AS (
    INSERT INTO scalp_gaps AS g (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin, computed_at)
    SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, 'feed', reason, 'derived', %(now)s::timestamptz
    FROM want
    ON CONFLICT (symbol, gap_start_ts, scope, origin) DO UPDATE
        SET gap_end_ts = EXCLUDED.gap_end_ts, gap_seconds = EXCLUDED.gap_seconds,
            reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
        WHERE (g.gap_end_ts, g.gap_seconds, g.reason)
              IS DISTINCT FROM (EXCLUDED.gap_end_ts, EXCLUDED.gap_seconds, EXCLUDED.reason)
    RETURNING 1
)
SELECT (SELECT count(*) FROM put), (SELECT count(*) FROM gone), (SELECT count(*) FROM want)
