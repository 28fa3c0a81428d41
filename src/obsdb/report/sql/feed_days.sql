-- Per trading day of the report: how much of the session the whole feed was alive (1 - derived
-- feed-gap seconds / session seconds) and its gaps by origin. Feed gaps never overlap each other.
WITH sess AS (
    SELECT s.day, s.open, s.close, extract(epoch FROM s.close - s.open) AS seconds
    FROM unnest(%(days)s::date[], %(opens)s::timestamptz[], %(closes)s::timestamptz[]) AS s(day, open, close)
)
SELECT s.day,
       count(g.gap_start_ts) FILTER (WHERE g.origin = 'derived') AS derived_gaps,
       count(g.gap_start_ts) FILTER (WHERE g.origin = 'archived') AS archived_gaps,
       round(coalesce(sum(extract(epoch FROM least(g.gap_end_ts, s.close) - greatest(g.gap_start_ts, s.open)))
                      FILTER (WHERE g.origin = 'derived'), 0)::numeric, 3) AS gap_seconds,
       round(greatest(0, 1 - coalesce(sum(extract(epoch FROM least(g.gap_end_ts, s.close)
                                                  - greatest(g.gap_start_ts, s.open)))
                                      FILTER (WHERE g.origin = 'derived'), 0) / s.seconds)::numeric, 4) AS coverage
FROM sess s
LEFT JOIN scalp_gaps g ON g.symbol = '*' AND g.scope = 'feed'
                      AND g.gap_start_ts >= s.open AND g.gap_start_ts <= s.close
GROUP BY s.day, s.seconds
HAVING count(g.gap_start_ts) > 0
ORDER BY s.day
