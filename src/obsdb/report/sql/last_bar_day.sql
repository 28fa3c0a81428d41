-- The newest derived 1-minute bar in [%(lo)s, %(hi)s) (of %(symbols)s, NULL: any): its day gets the candles.
SELECT max(bar_time) FROM scalp_1m_bars
WHERE origin = 'derived' AND bar_time >= %(lo)s AND bar_time < %(hi)s
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY (%(symbols)s::text[]))
