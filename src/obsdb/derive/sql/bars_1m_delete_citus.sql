-- Citus: the derived 1-minute bars of the day that bars_1m_citus.sql no longer computes, i.e. whose
-- minute holds no tick that passes bars_1m.sql's filter. Pushed down to the workers: a correlated
-- probe on the distribution column over the ticks within an hour of the bar (an index range), and,
-- for the exact rule, the rare ticks further from their bar than that (exchange_time far from
-- event_time) as a small uncorrelated list. Citus allows no STABLE function (timestamptz
-- arithmetic) in a CASE of a modification, hence two tests rather than one ordered CASE.
-- Params: symbols, lo, hi, close. Answers (symbol, deleted, first deleted bar_time).
WITH deleted AS (
    DELETE FROM scalp_1m_bars b
    WHERE b.symbol = ANY(%(symbols)s::text[]) AND b.origin = 'derived'
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
      -- a day without a session keeps no bar: tested here, not inside the probes, since a probe
      -- folded to "false" no longer shows Citus its join on symbol; bars_1m.sql only makes whole minutes
      AND (%(close)s::timestamptz IS NULL
           OR b.bar_time <> date_bin('1 minute', b.bar_time, %(lo)s::timestamptz)
           OR (NOT EXISTS (  -- first the ticks near their bar (nearly all): a probe of seconds,
                             -- where the full one below reads the hour before the bar first
          SELECT 1 FROM scalp_ticks t
          WHERE t.symbol = b.symbol
            AND t.event_time >= b.bar_time - interval '1 minute'
            AND t.event_time < b.bar_time + interval '2 minutes'
            AND coalesce(t.exchange_time, t.event_time) >= b.bar_time
            AND coalesce(t.exchange_time, t.event_time) < b.bar_time + interval '1 minute'
            AND t.last_price IS NOT NULL
            AND t.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)')
      AND NOT EXISTS (
          SELECT 1 FROM scalp_ticks t
          WHERE t.symbol = b.symbol
            AND t.event_time >= b.bar_time - interval '1 hour'
            AND t.event_time < b.bar_time + interval '61 minutes'
            AND coalesce(t.exchange_time, t.event_time) >= b.bar_time
            AND coalesce(t.exchange_time, t.event_time) < b.bar_time + interval '1 minute'
            AND t.last_price IS NOT NULL
            AND t.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)')
      AND (b.symbol, b.bar_time) NOT IN (
          SELECT f.symbol, f.bar_time
          FROM (SELECT t.symbol, t.event_time,
                       date_bin('1 minute', coalesce(t.exchange_time, t.event_time), %(lo)s::timestamptz) AS bar_time
                FROM scalp_ticks t
                WHERE t.symbol = ANY(%(symbols)s::text[])
                  AND t.event_time >= %(lo)s::timestamptz - interval '1 hour'
                  AND t.event_time < %(hi)s::timestamptz + interval '1 hour'
                  AND coalesce(t.exchange_time, t.event_time) >= %(lo)s::timestamptz
                  AND coalesce(t.exchange_time, t.event_time) < %(hi)s::timestamptz
                  AND abs(extract(epoch FROM coalesce(t.exchange_time, t.event_time) - t.event_time)) > 3000
                  AND t.last_price IS NOT NULL
                  AND t.quality_flag !~ '(^|,)(suspect|outside_session|non_trading_day)(,|$)') f
          WHERE f.event_time < f.bar_time - interval '1 hour' OR f.event_time >= f.bar_time + interval '61 minutes')))
    RETURNING b.symbol, b.bar_time
)
SELECT symbol, count(*), min(bar_time) FROM deleted GROUP BY symbol
