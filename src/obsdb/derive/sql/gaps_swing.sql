-- Swing gaps of one KST day: the session's swing snapshots, ordered by time across all symbols, form
-- polling sweeps (a new sweep starts when the distance to the previous snapshot is at least
-- %(threshold)s seconds). A symbol seen in any sweep of the day but absent from another sweep is a
-- 'missing_poll' gap spanning that sweep's first to last snapshot. No session (open NULL): no rows.
-- Params: lo, hi = the KST day; open, close = its session; threshold; now = for computed_at.
-- Then the day's derived gaps of this scope are made equal to "want", touching only what differs
-- (on the key (symbol, gap_start_ts, scope, origin); feed gaps have the symbol '*', migration 011);
-- archived gaps are never selected. Answers one row: (written, deleted, computed).
-- The big table is bounded by the parameters themselves, not by the session CTE's columns (a join
-- condition is unknown when planning: the whole month was read); a NULL open matches no row.
WITH session AS (
    SELECT %(open)s::timestamptz AS open, %(close)s::timestamptz AS close
    WHERE %(open)s::timestamptz IS NOT NULL
),
snaps AS (
    SELECT p.symbol, p.snapshot_time AS t,
           CASE WHEN extract(epoch FROM p.snapshot_time - lag(p.snapshot_time)
                                        OVER (ORDER BY p.snapshot_time, p.symbol)) < %(threshold)s::numeric
                THEN 0 ELSE 1 END AS starts_sweep
    FROM swing_snapshots p
    WHERE p.snapshot_time >= %(open)s::timestamptz AND p.snapshot_time <= %(close)s::timestamptz
),
swept AS (
    SELECT symbol, t, sum(starts_sweep) OVER (ORDER BY t, symbol ROWS UNBOUNDED PRECEDING) AS sweep
    FROM snaps
),
sweeps AS (
    SELECT sweep, min(t) AS first_ts, max(t) AS last_ts FROM swept GROUP BY sweep
),
symbols AS (
    SELECT DISTINCT symbol FROM swept
),
want AS (
    SELECT y.symbol, w.first_ts AS gap_start_ts, w.last_ts AS gap_end_ts,
           round(extract(epoch FROM w.last_ts - w.first_ts), 3) AS gap_seconds,
           'missing_poll'::text AS reason
    FROM sweeps w CROSS JOIN symbols y
    WHERE NOT EXISTS (SELECT 1 FROM swept x WHERE x.sweep = w.sweep AND x.symbol = y.symbol)
      AND y.symbol <> '*'  -- the feed's symbol in scalp_gaps: a snapshot 'symbol' '*' gets no gaps
)
, gone AS (
    DELETE FROM scalp_gaps g
    WHERE g.origin = 'derived' AND g.scope = 'swing'
      AND g.gap_start_ts >= %(lo)s::timestamptz AND g.gap_start_ts < %(hi)s::timestamptz
      AND NOT EXISTS (SELECT 1 FROM want w
                      WHERE w.symbol = g.symbol AND w.gap_start_ts = g.gap_start_ts)
    RETURNING 1
),
put AS (
    INSERT INTO scalp_gaps AS g (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin, computed_at)
    SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, 'swing', reason, 'derived', %(now)s::timestamptz
    FROM want
    ON CONFLICT (symbol, gap_start_ts, scope, origin) DO UPDATE
        SET gap_end_ts = EXCLUDED.gap_end_ts, gap_seconds = EXCLUDED.gap_seconds,
            reason = EXCLUDED.reason, computed_at = EXCLUDED.computed_at
        WHERE (g.gap_end_ts, g.gap_seconds, g.reason)
              IS DISTINCT FROM (EXCLUDED.gap_end_ts, EXCLUDED.gap_seconds, EXCLUDED.reason)
    RETURNING 1
)
SELECT (SELECT count(*) FROM put), (SELECT count(*) FROM gone), (SELECT count(*) FROM want)
