-- Citus: how many derived 1-minute bars of the day each symbol has. Run after bars_1m_citus.sql and
-- bars_1m_delete_citus.sql in the same transaction, that is exactly the computed set.
-- Params: symbols, lo, hi. Answers (symbol, computed).
SELECT symbol, count(*)
FROM scalp_1m_bars
WHERE symbol = ANY(%(symbols)s::text[]) AND origin = 'derived'
  AND bar_time >= %(lo)s::timestamptz AND bar_time < %(hi)s::timestamptz
GROUP BY symbol
