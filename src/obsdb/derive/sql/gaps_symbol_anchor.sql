-- Where each symbol's gaps must be recomputed from after an increment: gaps_feed_anchor.sql's rule
-- per symbol (its own ticks, by the key (symbol, event_time); a symbol gap is longer than the
-- threshold, so the pair around f was one when the day was last derived). Params: symbols (text[]),
-- f, f_lo (timestamptz[], per symbol: its earliest 'since', at most the close, and that minus the
-- threshold, after the open); open, close. Answers (symbol, start): NULL start = the whole day.
SELECT m.symbol,
       CASE WHEN EXISTS (SELECT 1 FROM scalp_ticks t
                         WHERE t.symbol = m.symbol AND t.event_time >= m.f_lo AND t.event_time < m.f
                           AND t.event_time >= %(open)s::timestamptz AND t.event_time <= %(close)s::timestamptz)
            THEN m.f_lo
            ELSE (SELECT g.gap_start_ts FROM scalp_gaps g
                  WHERE g.symbol = m.symbol AND g.scope = 'symbol' AND g.origin = 'derived'
                    AND g.gap_start_ts >= %(open)s::timestamptz AND g.gap_start_ts < m.f AND g.gap_end_ts >= m.f
                  ORDER BY g.gap_start_ts DESC LIMIT 1)
       END
FROM unnest(%(symbols)s::text[], %(f)s::timestamptz[], %(f_lo)s::timestamptz[]) AS m (symbol, f, f_lo)
