-- Where an increment's feed gaps must be recomputed from. The new ticks all lie at or after f (the
-- earliest 'since' of the day's marks, at most the close), so the consecutive pairs of points
-- {open, ticks, close} that end before f are unchanged. Recomputing from a point p <= the last
-- point before f is exact: every gap starting at or after p has both ends in what is read.
-- 1. A tick in [f_lo, f) (f_lo = f - threshold, after the open): start at f_lo.
-- 2. Else the last point before f is more than a threshold before it, so the pair around f was a
--    gap when the day was last derived: start at that gap's start.
-- 3. Else (the day was never derived, or no such gap): NULL, the whole day.
-- Params: open, f, f_lo. Answers one row: (start).
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM scalp_ticks t
                 WHERE t.event_time >= %(f_lo)s::timestamptz AND t.event_time < %(f)s::timestamptz)
    THEN %(f_lo)s::timestamptz
    ELSE (SELECT g.gap_start_ts FROM scalp_gaps g
          WHERE g.symbol = '*' AND g.scope = 'feed' AND g.origin = 'derived'
            AND g.gap_start_ts >= %(open)s::timestamptz AND g.gap_start_ts < %(f)s::timestamptz
            AND g.gap_end_ts >= %(f)s::timestamptz
          ORDER BY g.gap_start_ts DESC LIMIT 1)
END
