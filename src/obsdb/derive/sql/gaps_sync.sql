-- Appended to a gaps_<kind>.sql query that ends with the CTE "want" (symbol, gap_start_ts,
-- gap_end_ts, gap_seconds, reason): make the derived gaps of one scope on one KST day
-- [%(day_lo)s, %(day_hi)s) (one symbol when %(symbol)s is not NULL) equal to "want", touching only
-- what differs. The upsert's key is UNIQUE NULLS NOT DISTINCT, so feed gaps (symbol NULL) match too.
-- Archived gaps are never selected. Returns (written, deleted, wanted).
, gone AS (
    DELETE FROM scalp_gaps g
    WHERE g.origin = 'derived' AND g.scope = %(scope)s
      AND g.gap_start_ts >= %(day_lo)s AND g.gap_start_ts < %(day_hi)s
      AND (%(symbol)s::text IS NULL OR g.symbol = %(symbol)s::text)
      AND NOT EXISTS (SELECT 1 FROM want w
                      WHERE w.symbol IS NOT DISTINCT FROM g.symbol AND w.gap_start_ts = g.gap_start_ts)
    RETURNING 1
),
put AS (
    INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin)
    SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, %(scope)s::text, reason, 'derived' FROM want
    ON CONFLICT (symbol, gap_start_ts, scope, origin) DO UPDATE
        SET gap_end_ts = EXCLUDED.gap_end_ts, gap_seconds = EXCLUDED.gap_seconds,
            reason = EXCLUDED.reason, computed_at = now()
        WHERE (scalp_gaps.gap_end_ts, scalp_gaps.gap_seconds, scalp_gaps.reason)
              IS DISTINCT FROM (EXCLUDED.gap_end_ts, EXCLUDED.gap_seconds, EXCLUDED.reason)
    RETURNING 1
)
SELECT (SELECT count(*) FROM put), (SELECT count(*) FROM gone), (SELECT count(*) FROM want)
