-- How many events outcomes_fill.sql will compute (its `ev` selection). Run just
-- before it in the same transaction: the selection depends on the outcomes it then writes.
-- Params: lo, hi, symbols. Answers (computed).
SELECT count(*)
FROM analysis_signal_events e
LEFT JOIN analysis_signal_outcomes o
       ON o.symbol = e.symbol AND o.event_time = e.event_time AND o.signal_type = e.signal_type
WHERE e.event_time >= %(lo)s::timestamptz AND e.event_time < %(hi)s::timestamptz
  AND (e.symbol = ANY(%(symbols)s::text[]) OR o.symbol IS NULL OR o.return_10m IS NULL)
