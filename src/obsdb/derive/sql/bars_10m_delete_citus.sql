-- Citus: the derived 10-minute bars of the day that bars_10m_citus.sql no longer computes. A 'ticks'
-- bar stays while its 10 minutes hold a derived 1-minute bar; a 'snapshots' bar while its symbol has
-- no derived 1-minute bar that day and its 10 minutes hold an in-session snapshot that
-- bars_10m.sql reads. Correlated probes on the distribution column: the DELETE runs on the
-- workers. Params: symbols, lo, hi, open, close. Answers (symbol, deleted, first deleted bar_time).
WITH deleted AS (
    DELETE FROM swing_bars_10m b
    WHERE b.symbol = ANY(%(symbols)s::text[]) AND b.origin IN ('ticks', 'snapshots')
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      -- (no CASE on origin: Citus allows no STABLE function, timestamptz arithmetic, in a CASE here)
      AND (b.bar_time <> date_bin('10 minutes', b.bar_time, %(lo)s::timestamptz)
           OR b.origin = 'ticks' AND NOT EXISTS (
                  SELECT 1 FROM scalp_1m_bars m
                  WHERE m.symbol = b.symbol AND m.origin = 'derived'
                    AND m.bar_time >= b.bar_time AND m.bar_time < b.bar_time + interval '10 minutes'
                    AND m.bar_time < %(hi)s::timestamptz)
           OR b.origin = 'snapshots' AND (
                  EXISTS (
                      SELECT 1 FROM scalp_1m_bars m
                      WHERE m.symbol = b.symbol AND m.origin = 'derived'
                        AND m.bar_time >= %(lo)s::timestamptz AND m.bar_time < %(hi)s::timestamptz)
                  -- no session: no snapshot bar (tested here: a probe folded to "false" no longer
                  -- shows Citus its join on symbol)
                  OR %(open)s::timestamptz IS NULL OR %(close)s::timestamptz IS NULL
                  OR NOT EXISTS (
                      SELECT 1 FROM swing_snapshots p
                      WHERE p.symbol = b.symbol
                        AND p.snapshot_time >= %(open)s::timestamptz AND p.snapshot_time < %(close)s::timestamptz
                        AND p.snapshot_time >= b.bar_time AND p.snapshot_time < b.bar_time + interval '10 minutes'
                        AND p.price IS NOT NULL
                        AND p.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)')))
    RETURNING b.symbol, b.bar_time
)
SELECT symbol, count(*), min(bar_time) FROM deleted GROUP BY symbol
