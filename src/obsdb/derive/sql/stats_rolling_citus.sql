-- Citus form of stats_rolling.sql (chosen in code when the citus extension is installed; same
-- rows, same formulas: read that file's header). On Citus a CTE used more than once, or declared
-- MATERIALIZED, becomes an intermediate result on the coordinator: the day's bars and every
-- statistics row would pass through it. Here every CTE is used once and none is MATERIALIZED, the
-- scope's "since" is looked up by array_position (no join to unnest), so the whole INSERT runs on
-- the workers. stats_rolling_delete_citus.sql and stats_rolling_count_citus.sql do the rest, in the
-- same transaction. Params as stats_rolling.sql. Answers (written).
WITH day_bars AS (  -- one bar per (symbol, bar_time): the first origin of the list wins
    SELECT DISTINCT ON (b.symbol, b.bar_time) b.symbol, b.bar_time, b.high, b.low, b.close, b.volume
    FROM {bars} b
    WHERE b.symbol = ANY(%(symbols)s::text[])
      AND b.origin = ANY(%(origins)s::text[])
      AND b.bar_time >= %(lo)s::timestamptz AND b.bar_time < %(hi)s::timestamptz
    ORDER BY b.symbol, b.bar_time, array_position(%(origins)s::text[], b.origin)
),
steps AS (  -- against the previous bar of the same day: return r and true range tr
    SELECT symbol, bar_time, high, low, close, volume, r,
           CASE WHEN prev_close IS NULL THEN high - low
                ELSE greatest(high - low, abs(high - prev_close), abs(low - prev_close)) END AS tr
    FROM (
        SELECT p.*,
               CASE WHEN p.prev_close > 0 AND p.close > 0
                    THEN ln(round(p.close::numeric, 24) / p.prev_close) END AS r
        FROM (SELECT d.*, lag(d.close) OVER (PARTITION BY d.symbol ORDER BY d.bar_time) AS prev_close
              FROM day_bars d) p
    ) q
),
running AS (  -- per bar, h: what a frame starting at the bar subtracts from the day's running
              -- sums, i.e. the sums before the bar, except for returns, whose sums include the
              -- bar's own (the first bar of a frame has no return inside the frame). One array: it
              -- is the only wide value the frames below carry and look up.
    SELECT symbol, bar_time, high, low, close, tr, volume,
           ARRAY[c_bars - 1, c_close - close, c_close2 - close::numeric * close, c_tr - tr,
                 c_nv - (volume IS NOT NULL)::int, c_vol - coalesce(volume, 0),
                 c_vol2 - coalesce(volume::numeric * volume, 0),
                 c_pv3 - coalesce((high + low + close)::numeric * volume, 0),
                 c_nr, c_r1, c_r2, c_r3, c_r4]::numeric[] AS h
    FROM (
        SELECT symbol, bar_time, high, low, close, tr, volume,
               count(*) OVER d AS c_bars, sum(close) OVER d AS c_close,
               sum(close::numeric * close) OVER d AS c_close2, sum(tr) OVER d AS c_tr,
               count(volume) OVER d AS c_nv, coalesce(sum(volume) OVER d, 0) AS c_vol,
               coalesce(sum(volume::numeric * volume) OVER d, 0) AS c_vol2,
               coalesce(sum((high + low + close)::numeric * volume) OVER d, 0) AS c_pv3,
               count(r) OVER d AS c_nr, coalesce(sum(r) OVER d, 0) AS c_r1,
               coalesce(sum(r * r) OVER d, 0) AS c_r2, coalesce(sum(r * r * r) OVER d, 0) AS c_r3,
               coalesce(sum(r * r * r * r) OVER d, 0) AS c_r4
        FROM steps
        WINDOW d AS (PARTITION BY symbol ORDER BY bar_time ROWS UNBOUNDED PRECEDING)
    ) c
),
frames AS (  -- per window slot k: h of the frame's first bar, the frame's min and max
    SELECT symbol, bar_time, close, tr, volume, high, low, h,
           first_value(h) OVER w1 AS h1, min(low) OVER w1 AS lo1, max(high) OVER w1 AS hi1,
           first_value(h) OVER w2 AS h2, min(low) OVER w2 AS lo2, max(high) OVER w2 AS hi2,
           first_value(h) OVER w3 AS h3, min(low) OVER w3 AS lo3, max(high) OVER w3 AS hi3,
           first_value(h) OVER w4 AS h4, min(low) OVER w4 AS lo4, max(high) OVER w4 AS hi4,
           first_value(h) OVER w5 AS h5, min(low) OVER w5 AS lo5, max(high) OVER w5 AS hi5
    FROM running
    WINDOW d AS (PARTITION BY symbol ORDER BY bar_time),
           w1 AS (d RANGE BETWEEN (coalesce(%(w1)s, %(bar_minutes)s) - %(bar_minutes)s) * interval '1 minute'
                      PRECEDING AND CURRENT ROW),
           w2 AS (d RANGE BETWEEN (coalesce(%(w2)s, %(bar_minutes)s) - %(bar_minutes)s) * interval '1 minute'
                      PRECEDING AND CURRENT ROW),
           w3 AS (d RANGE BETWEEN (coalesce(%(w3)s, %(bar_minutes)s) - %(bar_minutes)s) * interval '1 minute'
                      PRECEDING AND CURRENT ROW),
           w4 AS (d RANGE BETWEEN (coalesce(%(w4)s, %(bar_minutes)s) - %(bar_minutes)s) * interval '1 minute'
                      PRECEDING AND CURRENT ROW),
           w5 AS (d RANGE BETWEEN (coalesce(%(w5)s, %(bar_minutes)s) - %(bar_minutes)s) * interval '1 minute'
                      PRECEDING AND CURRENT ROW)
),
sums AS (  -- one row per (bar, window length) the scope writes: the frame's sums, i.e.
                        -- the running sums through the bar (its h plus its own values) less the
                        -- first bar's h
    SELECT f.symbol, s.window_minutes, f.bar_time, s.price_min, s.price_max,
           (f.h[1] + 1 - s.h[1])::bigint AS n_bars, f.h[2] + f.close - s.h[2] AS sx,
           f.h[3] + f.close::numeric * f.close - s.h[3] AS sx2, f.h[4] + f.tr - s.h[4] AS s_tr,
           (f.h[5] + (f.volume IS NOT NULL)::int - s.h[5])::bigint AS n_v,
           f.h[6] + coalesce(f.volume, 0) - s.h[6] AS sv,
           f.h[7] + coalesce(f.volume::numeric * f.volume, 0) - s.h[7] AS sv2,
           f.h[8] + coalesce((f.high + f.low + f.close)::numeric * f.volume, 0) - s.h[8] AS pv3,
           (f.h[9] - s.h[9])::bigint AS n, f.h[10] - s.h[10] AS s1, f.h[11] - s.h[11] AS s2,
           f.h[12] - s.h[12] AS s3, f.h[13] - s.h[13] AS s4
    FROM frames f
    CROSS JOIN LATERAL (VALUES
                (%(w1)s::smallint, f.h1, f.lo1, f.hi1),
                (%(w2)s::smallint, f.h2, f.lo2, f.hi2),
                (%(w3)s::smallint, f.h3, f.lo3, f.hi3),
                (%(w4)s::smallint, f.h4, f.lo4, f.hi4),
                (%(w5)s::smallint, f.h5, f.lo5, f.hi5)
    ) AS s (window_minutes, h, price_min, price_max)
    WHERE s.window_minutes IS NOT NULL
      -- the symbol's first changed bar (froms[i] for symbols[i]; NULL: the whole day)
      AND coalesce(f.bar_time >= (%(froms)s::timestamptz[])[array_position(%(symbols)s::text[], f.symbol)], true)
),
moments AS (  -- exact central moments as double: m2 = n*M2, m3 = n^2*M3, m4 = n^3*M4;
                           -- q_x, q_v: n(n-1) times the sample variance of close and of volume
    SELECT symbol, window_minutes, bar_time, n_bars, n, n_v, sx, s_tr, sv, pv3, price_min, price_max,
           (s1 / nullif(n, 0))::float8 AS mean, m2n > 0 AS spread,
           m2n::float8 AS m2,
           (n * n * s3 - 3 * n * s1 * s2 + 2 * s1 * s1 * s1)::float8 AS m3,
           (n * n * n * s4 - 4 * n * n * s1 * s3 + 6 * n * s1 * s1 * s2 - 3 * s1 * s1 * s1 * s1)::float8 AS m4,
           n_bars * sx2 - sx * sx AS q_x, n_v * sv2 - sv * sv AS q_v
    FROM (SELECT s.*, n * s2 - s1 * s1 AS m2n FROM sums s) m
),
stats AS (  -- avg and stddev_samp as PostgreSQL computes them (numeric division, then sqrt)
    SELECT symbol, window_minutes, bar_time,
           n_bars::integer AS bar_count,
           least(1.0, (n_bars * %(bar_minutes)s)::float8 / window_minutes) AS coverage,
           round(sx / n_bars, 4) AS price_mean,
           CASE WHEN n_bars >= 2 THEN round(CASE WHEN q_x <= 0 THEN 0
                                                 ELSE sqrt(q_x / (n_bars * (n_bars - 1))::numeric) END, 4) END
               AS price_stddev,
           price_min, price_max,
           CASE WHEN n >= 1 THEN mean END AS logret_mean,
           CASE WHEN n >= 2 THEN sqrt(m2 / (n * (n - 1))) END AS logret_stddev,
           CASE WHEN n >= 3 AND spread
                THEN sqrt((n * (n - 1))::float8) / (n - 2) * (m3 / power(m2, 1.5)) END AS logret_skew,
           CASE WHEN n >= 4 AND spread
                THEN ((n + 1) * (n - 1))::float8 / ((n - 2) * (n - 3)) * (m4 / power(m2, 2))
                     - (3 * (n - 1) * (n - 1))::float8 / ((n - 2) * (n - 3)) END AS logret_kurtosis,
           round(s_tr / n_bars, 4) AS atr,
           CASE WHEN n >= 2 THEN sqrt(m2 / (n * (n - 1))) * sqrt(%(bars_per_year)s::float8) END
               AS annualized_vol,
           price_max - price_min AS hl_range,
           CASE WHEN n_v >= 1 THEN round(sv / n_v, 4) END AS volume_mean,
           CASE WHEN n_v >= 2 THEN round(CASE WHEN q_v <= 0 THEN 0
                                              ELSE sqrt(q_v / (n_v * (n_v - 1))::numeric) END, 4) END
               AS volume_stddev,
           CASE WHEN sv > 0 THEN round(pv3 / (3 * sv), 4) END AS vwap
    FROM moments m
),
upserted AS (
    INSERT INTO analysis_rolling_stats AS t (
        symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
        price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
        annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at)
    SELECT symbol, %(source_table)s, window_minutes, bar_time, bar_count, coverage, price_mean,
           price_stddev, price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
           annualized_vol, hl_range, volume_mean, volume_stddev, vwap, %(now)s::timestamptz
    FROM stats
    ON CONFLICT (symbol, source_table, window_minutes, bar_time) DO UPDATE SET
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
)
SELECT count(*) FROM upserted
