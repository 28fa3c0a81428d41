-- Every gap (feed, symbol, swing; derived and archived) starting in a session of the report, for the
-- gap timeline, longest first so that a cut (%(limit)s) drops the shortest. Symbol-scoped rows only
-- for %(symbols)s (NULL: all); feed gaps (symbol '*') always. Returns at most %(limit)s + 1 rows: one
-- more says "cut".
WITH sess AS (
    SELECT s.day, s.open, s.close
    FROM unnest(%(days)s::date[], %(opens)s::timestamptz[], %(closes)s::timestamptz[]) AS s(day, open, close)
)
SELECT s.day, g.symbol, g.scope, g.origin, coalesce(g.reason, g.gap_type, 'unknown') AS reason,
       g.gap_start_ts, g.gap_end_ts, g.gap_seconds
FROM sess s JOIN scalp_gaps g ON g.gap_start_ts >= s.open AND g.gap_start_ts <= s.close
WHERE g.scope = 'feed' OR %(symbols)s::text[] IS NULL OR g.symbol = ANY (%(symbols)s::text[])
ORDER BY g.gap_seconds DESC, g.gap_start_ts, g.symbol
LIMIT %(limit)s + 1
