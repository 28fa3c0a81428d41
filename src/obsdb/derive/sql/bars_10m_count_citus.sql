-- Citus: how many derived 10-minute bars (origins 'ticks', 'snapshots') of the day each symbol has.
-- Run after bars_10m_citus.sql and bars_10m_delete_citus.sql in the same transaction, that is
-- exactly the computed set. Params: symbols, lo, hi. Answers (symbol, computed).
SELECT symbol, count(*)
FROM swing_bars_10m
WHERE symbol = ANY(%(symbols)s::text[]) AND origin IN ('ticks', 'snapshots')
  AND bar_time >= %(lo)s::timestamptz AND bar_time < %(hi)s::timestamptz
GROUP BY symbol
