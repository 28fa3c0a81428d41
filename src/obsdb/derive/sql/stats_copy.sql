COPY analysis_rolling_stats (symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean,
    price_stddev, price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
    annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at) FROM STDIN (FORMAT BINARY)
