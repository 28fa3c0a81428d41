-- The ticks a KST day's 1-minute bars are made of (derive/minutes.py buckets them), for every symbol
-- of %(symbols)s, as six arrays in one row, read in binary (one message, not one a tick): the
-- symbol's 1-based index in %(symbols)s, the tick time (exchange time, else receive time), the
-- receive time, the price, and the cumulative and own volume with -1 for NULL (the table's checks
-- keep both >= 0). In no order (one aggregation: the arrays' elements line up); the client sorts.
-- Params: symbols (text[]); lo, hi = the KST day as [lo, hi); close = the session close (NULL: no
-- trading day, so no ticks). No tick: one row of NULLs.
SELECT array_agg(s.i::integer), array_agg(coalesce(t.exchange_time, t.event_time)), array_agg(t.event_time),
       array_agg(t.last_price), array_agg(coalesce(t.cum_volume, -1)), array_agg(coalesce(t.volume, -1))
FROM unnest(%(symbols)s::text[]) WITH ORDINALITY AS s (symbol, i)
JOIN scalp_ticks t ON t.symbol = s.symbol
-- The symbols as an = ANY bound too: one bitmap of the key for all of them, so each heap page of
-- the day is read once (a join alone was a key scan per symbol: 40 symbols interleave on every
-- page, 196,000 page reads for a 200,000-tick day instead of 6,300), and the plan stays that
-- whatever the estimate (the tick-time bounds below are estimated at a few hundred rows).
-- event_time bounds prune partitions and use the key; the tick's own time decides its day
WHERE t.symbol = ANY(%(symbols)s::text[])
  AND t.event_time >= %(lo)s::timestamptz - interval '1 hour'
  AND t.event_time < %(hi)s::timestamptz + interval '1 hour'
  AND coalesce(t.exchange_time, t.event_time) >= %(lo)s::timestamptz
  AND coalesce(t.exchange_time, t.event_time) < %(hi)s::timestamptz
  AND t.last_price IS NOT NULL
  AND (t.quality_flag = 'normal' OR t.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)')
  AND %(close)s::timestamptz IS NOT NULL
