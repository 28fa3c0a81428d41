-- The 10-minute bars (every origin) of the symbols %(symbols)s on one KST day [%(lo)s, %(hi)s).
SELECT symbol, origin, bar_time, open, high, low, close, volume, bar_count, coverage_ratio, quality_flag
FROM swing_bars_10m
WHERE symbol = ANY (%(symbols)s::text[]) AND bar_time >= %(lo)s AND bar_time < %(hi)s
ORDER BY symbol, origin, bar_time
