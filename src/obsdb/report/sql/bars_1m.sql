-- The 1-minute bars (both origins) of the symbols %(symbols)s on one KST day [%(lo)s, %(hi)s).
SELECT symbol, origin, bar_time, open, high, low, close, volume, tick_count, coverage_ratio, quality_flag
FROM scalp_1m_bars
WHERE symbol = ANY (%(symbols)s::text[]) AND bar_time >= %(lo)s AND bar_time < %(hi)s
ORDER BY symbol, origin, bar_time
