-- The statistics rows of obsdb_stats_in (stats_in_create.sql): its double precision columns as
-- computed, NULL where undefined (docs/derive-stats.md: the mean needs a return, the standard
-- deviation and annualised volatility two, skewness three and kurtosis four, and both of these
-- returns that are not all equal), the numeric ones from its exact sums, with PostgreSQL's own
-- numeric division, square root and rounding (avg and stddev_samp as PostgreSQL computes them).
-- s stays the symbol's index: the statements that read this view map it to the symbol. Temporary,
-- like the table.
CREATE OR REPLACE TEMPORARY VIEW obsdb_stats AS
SELECT s, window_minutes, bar_time, bar_count, coverage,
       round(sx / bar_count, 4) AS price_mean,
       CASE WHEN bar_count >= 2 THEN round(CASE WHEN q_x <= 0 THEN 0
                                                ELSE sqrt(q_x / (bar_count::bigint * (bar_count - 1))::numeric) END, 4)
       END AS price_stddev,
       price_min, price_max,
       CASE WHEN n_r >= 1 THEN logret_mean END AS logret_mean,
       CASE WHEN n_r >= 2 THEN logret_stddev END AS logret_stddev,
       CASE WHEN n_r >= 3 AND spread THEN logret_skew END AS logret_skew,
       CASE WHEN n_r >= 4 AND spread THEN logret_kurtosis END AS logret_kurtosis,
       round(s_tr / bar_count, 4) AS atr,
       CASE WHEN n_r >= 2 THEN annualized_vol END AS annualized_vol,
       price_max - price_min AS hl_range,
       CASE WHEN n_v >= 1 THEN round(sv / n_v, 4) END AS volume_mean,
       CASE WHEN n_v >= 2 THEN round(CASE WHEN q_v <= 0 THEN 0 ELSE sqrt(q_v / (n_v * (n_v - 1))::numeric) END, 4)
       END AS volume_stddev,
       CASE WHEN sv > 0 THEN round(pv3 / (3 * sv), 4) END AS vwap
FROM obsdb_stats_in
