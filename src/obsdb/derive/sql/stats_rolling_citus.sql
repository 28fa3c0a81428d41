-- Citus form of stats_rolling.sql's write (chosen in code when the citus extension is installed;
-- same rows). Citus runs no data-modifying CTE over a local table, so this is one upsert of
-- obsdb_stats (this session's temporary view, stats_in_view.sql) into the distributed table: the
-- coordinator sends the rows to their shards. Written rows are the statement's row count (with
-- RETURNING: without, Citus counts every row it sent, changed or not);
-- stats_rolling_delete_citus.sql deletes the rest, in the same transaction. Params as
-- stats_rolling.sql.
INSERT INTO analysis_rolling_stats AS t (
    symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
    price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
    annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at)
SELECT (%(symbols)s::text[])[s], %(source_table)s, window_minutes, bar_time, bar_count, coverage, price_mean,
       price_stddev, price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
       annualized_vol, hl_range, volume_mean, volume_stddev, vwap, %(now)s::timestamptz
FROM obsdb_stats
ON CONFLICT (symbol, window_minutes, bar_time, source_table) DO UPDATE SET
    bar_count = EXCLUDED.bar_count, coverage = EXCLUDED.coverage, price_mean = EXCLUDED.price_mean,
    price_stddev = EXCLUDED.price_stddev, price_min = EXCLUDED.price_min, price_max = EXCLUDED.price_max,
    logret_mean = EXCLUDED.logret_mean, logret_stddev = EXCLUDED.logret_stddev,
    logret_skew = EXCLUDED.logret_skew, logret_kurtosis = EXCLUDED.logret_kurtosis, atr = EXCLUDED.atr,
    annualized_vol = EXCLUDED.annualized_vol, hl_range = EXCLUDED.hl_range,
    volume_mean = EXCLUDED.volume_mean, volume_stddev = EXCLUDED.volume_stddev, vwap = EXCLUDED.vwap,
    computed_at = EXCLUDED.computed_at
WHERE (t.bar_count, t.coverage, t.price_mean, t.price_stddev, t.price_min, t.price_max, t.logret_mean,
       t.logret_stddev, t.logret_skew, t.logret_kurtosis, t.atr, t.annualized_vol, t.hl_range,
       t.volume_mean, t.volume_stddev, t.vwap)
      IS DISTINCT FROM
      (EXCLUDED.bar_count, EXCLUDED.coverage, EXCLUDED.price_mean, EXCLUDED.price_stddev,
       EXCLUDED.price_min, EXCLUDED.price_max, EXCLUDED.logret_mean, EXCLUDED.logret_stddev,
       EXCLUDED.logret_skew, EXCLUDED.logret_kurtosis, EXCLUDED.atr, EXCLUDED.annualized_vol,
       EXCLUDED.hl_range, EXCLUDED.volume_mean, EXCLUDED.volume_stddev, EXCLUDED.vwap)
RETURNING 1
