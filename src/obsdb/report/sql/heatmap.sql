-- One row per (symbol, trading day) that derive left any trace of: how much of the regular session
-- the symbol's ticks (or, without ticks, its swing polls; without either, the collector's archived
-- 10-minute bars) covered. Reads only derived tables, one index range scan per session
-- (%(days)s/%(opens)s/%(closes)s are the XKRX sessions of the report, built in Python); the minute
-- count comes from derive's 10-minute roll-up (bar_count of origin 'ticks' = its 1-minute bars), ten
-- times fewer rows than scalp_1m_bars. %(symbols)s NULL: every symbol.
--   ticks    -> coverage = 1 - (derived symbol-gap seconds inside the session) / session seconds
--   polls    -> coverage = 10-minute buckets of the session holding a swing snapshot bar / buckets
--   archived -> coverage = 10-minute buckets of the session holding an archived 10-minute bar / buckets
WITH sess AS (
    SELECT s.day, s.open, s.close, extract(epoch FROM s.close - s.open) AS seconds
    FROM unnest(%(days)s::date[], %(opens)s::timestamptz[], %(closes)s::timestamptz[]) AS s(day, open, close)
),
tens AS (
    SELECT w.symbol, s.day,
           coalesce(sum(w.bar_count) FILTER (WHERE w.origin = 'ticks'), 0) AS derived_bars,
           count(*) FILTER (WHERE w.origin = 'snapshots') AS poll_bars,
           count(*) FILTER (WHERE w.origin = 'archived') AS archived_bars
    FROM sess s JOIN swing_bars_10m w ON w.bar_time >= s.open AND w.bar_time < s.close
    WHERE %(symbols)s::text[] IS NULL OR w.symbol = ANY (%(symbols)s::text[])
    GROUP BY w.symbol, s.day
),
gaps AS (
    SELECT g.symbol, s.day,
           count(*) FILTER (WHERE g.scope = 'symbol' AND g.origin = 'derived') AS gap_count,
           coalesce(sum(extract(epoch FROM least(g.gap_end_ts, s.close) - greatest(g.gap_start_ts, s.open)))
                    FILTER (WHERE g.scope = 'symbol' AND g.origin = 'derived'), 0) AS gap_seconds,
           max(g.gap_seconds) FILTER (WHERE g.scope = 'symbol' AND g.origin = 'derived') AS longest_gap,
           count(*) FILTER (WHERE g.scope = 'symbol' AND g.origin = 'derived'
                              AND g.gap_start_ts > s.open AND g.gap_end_ts < s.close) AS inner_gaps,
           count(*) FILTER (WHERE g.scope = 'swing') AS missed_polls,
           count(*) FILTER (WHERE g.origin = 'archived') AS archived_gaps
    FROM sess s JOIN scalp_gaps g ON g.gap_start_ts >= s.open AND g.gap_start_ts <= s.close
    WHERE g.scope <> 'feed' AND (%(symbols)s::text[] IS NULL OR g.symbol = ANY (%(symbols)s::text[]))
    GROUP BY g.symbol, s.day
),
cells AS (
    SELECT coalesce(w.symbol, g.symbol) AS symbol, coalesce(w.day, g.day) AS day,
           coalesce(w.derived_bars, 0) AS derived_bars, coalesce(w.archived_bars, 0) AS archived_bars,
           coalesce(w.poll_bars, 0) AS poll_bars, coalesce(g.gap_count, 0) AS gap_count,
           coalesce(g.gap_seconds, 0) AS gap_seconds, g.longest_gap, coalesce(g.inner_gaps, 0) AS inner_gaps,
           coalesce(g.missed_polls, 0) AS missed_polls, coalesce(g.archived_gaps, 0) AS archived_gaps
    FROM tens w FULL JOIN gaps g ON g.symbol = w.symbol AND g.day = w.day
)
SELECT c.symbol, c.day,
       CASE WHEN c.derived_bars > 0 OR c.gap_count > 0 THEN 'ticks'
            WHEN c.poll_bars > 0 THEN 'polls'
            WHEN c.archived_bars > 0 THEN 'archived' END AS source,
       round(CASE WHEN c.derived_bars > 0 OR c.gap_count > 0
                      THEN greatest(0, 1 - c.gap_seconds / s.seconds)
                  WHEN c.poll_bars > 0 THEN least(1, c.poll_bars / ceil(s.seconds / 600))
                  WHEN c.archived_bars > 0 THEN least(1, c.archived_bars / ceil(s.seconds / 600))
             END::numeric, 4) AS coverage,
       c.derived_bars, c.archived_bars, c.poll_bars, c.gap_count, round(c.gap_seconds::numeric, 3) AS gap_seconds,
       c.longest_gap, c.inner_gaps, c.missed_polls, c.archived_gaps,
       ceil(s.seconds / 60)::int AS session_minutes
FROM cells c JOIN sess s ON s.day = c.day
WHERE c.derived_bars + c.archived_bars + c.poll_bars + c.gap_count > 0
ORDER BY c.symbol, c.day
