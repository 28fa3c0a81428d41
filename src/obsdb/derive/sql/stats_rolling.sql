-- Rolling statistics of a KST day for every symbol of %(symbols)s at once and for up to five window
-- lengths (%(w1)s .. %(w5)s minutes; NULL: slot unused), over the bar table {bars} (an identifier
-- chosen by code from a fixed mapping). Formulas: docs/derive-stats.md. Other parameters: froms
-- (timestamptz[], same order as symbols: write only bars from there on; NULL: the whole day),
-- lo, hi = the KST day, origins (text[], most trusted first), source_table, bar_minutes,
-- bars_per_year, now = for computed_at.
-- A bar's statistics read only bars of its own frame and the one before, so bars before a symbol's
-- first changed bar keep theirs: every bar of the day is still read (windows need them), but only
-- the rows from the first change on are compared and written.
-- The frame of the bar at t is bar_time in [t - window + bar, t]: for bars on the grid that is
-- every bar that starts in (t - window, t], i.e. lies wholly inside the window ending with bar t.
-- Every window sum is a difference of two running sums of the day (exact: integers and numeric):
-- the running sums are computed once for all window lengths, and each frame only looks up the
-- sums at its first bar (first_value). No join: a fresh day's partition has no statistics yet, and a
-- misestimated self-join of the bars is a nested loop. Returns r and their powers are numeric, so no sum cancels; only the final
-- ratios are double precision. min/max have no such form and are frame aggregates.
-- Inserts new rows, updates changed ones only, deletes rows whose bar is gone; answers one row:
-- (written, deleted, computed).
WITH scope AS (
    SELECT x.symbol, x.since
    FROM unnest(%(symbols)s::text[], %(froms)s::timestamptz[]) AS x (symbol, since)
),
day_bars AS (  -- one bar per (symbol, bar_time): the first origin of the list wins
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
-- MATERIALIZED: computed once per row; inlined, each sum and moment would be recomputed (and
-- converted from numeric) at every use
sums AS MATERIALIZED (  -- one row per (bar, window length) the scope writes: the frame's sums, i.e.
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
    JOIN scope x ON x.symbol = f.symbol AND (x.since IS NULL OR f.bar_time >= x.since)
    CROSS JOIN LATERAL (VALUES
                (%(w1)s::smallint, f.h1, f.lo1, f.hi1),
                (%(w2)s::smallint, f.h2, f.lo2, f.hi2),
                (%(w3)s::smallint, f.h3, f.lo3, f.hi3),
                (%(w4)s::smallint, f.h4, f.lo4, f.hi4),
                (%(w5)s::smallint, f.h5, f.lo5, f.hi5)
    ) AS s (window_minutes, h, price_min, price_max)
    WHERE s.window_minutes IS NOT NULL
),
moments AS MATERIALIZED (  -- exact central moments as double: m2 = n*M2, m3 = n^2*M3, m4 = n^3*M4;
                           -- q_x, q_v: n(n-1) times the sample variance of close and of volume.
                           -- Factored (Horner) over s1 and a = s1^2, each computed once (OFFSET 0
                           -- keeps the subquery from being inlined): numeric products are exact, so
                           -- the values are those of the expanded sums, for fewer wide multiplications
    SELECT symbol, window_minutes, bar_time, n_bars, n, n_v, sx, s_tr, sv, pv3, price_min, price_max,
           (s1 / nullif(n, 0))::float8 AS mean, m2n > 0 AS spread, m2n::float8 AS m2,
           (nn * nn * s3 + s1 * (2 * a - 3 * nn * s2))::float8 AS m3,
           (nn * nn * nn * s4 + s1 * (s1 * (6 * nn * s2 - 3 * a) - 4 * nn * nn * s3))::float8 AS m4,
           n_bars * sx2 - sx * sx AS q_x, n_v * sv2 - sv * sv AS q_v
    FROM (SELECT s.*, n::numeric AS nn, s1 * s1 AS a, n * s2 - s1 * s1 AS m2n FROM sums s OFFSET 0) m
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
existing AS (  -- the keys the scope has now (none on a fresh day)
    SELECT t.symbol, t.window_minutes, t.bar_time
    FROM analysis_rolling_stats t JOIN scope x ON x.symbol = t.symbol
    WHERE t.source_table = %(source_table)s
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (x.since IS NULL OR t.bar_time >= x.since)
),
-- New keys are a plain INSERT and changed rows an UPDATE, not one INSERT .. ON CONFLICT: its
-- speculative insertion costs half as much again per row, and a fresh day is all new rows. No one
-- else writes these keys meanwhile: derive holds the day's lock (derive/run.py).
-- NOT IN / IN: hashed subplans whatever the CTE's row estimate (see deleted below).
inserted AS (
    INSERT INTO analysis_rolling_stats (
        symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
        price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
        annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at)
    SELECT symbol, %(source_table)s, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
           price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
           annualized_vol, hl_range, volume_mean, volume_stddev, vwap, %(now)s::timestamptz
    FROM stats s
    WHERE (s.symbol, s.window_minutes, s.bar_time) NOT IN (SELECT e.symbol, e.window_minutes, e.bar_time FROM existing e)
    RETURNING 1
),
updated AS (
    UPDATE analysis_rolling_stats t SET
        bar_count = s.bar_count, coverage = s.coverage, price_mean = s.price_mean,
        price_stddev = s.price_stddev, price_min = s.price_min, price_max = s.price_max,
        logret_mean = s.logret_mean, logret_stddev = s.logret_stddev, logret_skew = s.logret_skew,
        logret_kurtosis = s.logret_kurtosis, atr = s.atr, annualized_vol = s.annualized_vol,
        hl_range = s.hl_range, volume_mean = s.volume_mean, volume_stddev = s.volume_stddev,
        vwap = s.vwap, computed_at = %(now)s::timestamptz
    FROM stats s
    -- EXISTS: a one-time filter, so a fresh day (no existing keys) probes no key at all
    WHERE EXISTS (SELECT FROM existing)
      AND (s.symbol, s.window_minutes, s.bar_time) IN (SELECT e.symbol, e.window_minutes, e.bar_time FROM existing e)
      AND t.symbol = s.symbol AND t.source_table = %(source_table)s AND t.window_minutes = s.window_minutes
      AND t.bar_time = s.bar_time
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (t.bar_count, t.coverage, t.price_mean, t.price_stddev, t.price_min, t.price_max,
           t.logret_mean, t.logret_stddev, t.logret_skew, t.logret_kurtosis, t.atr, t.annualized_vol,
           t.hl_range, t.volume_mean, t.volume_stddev, t.vwap)
          IS DISTINCT FROM
          (s.bar_count, s.coverage, s.price_mean, s.price_stddev, s.price_min, s.price_max,
           s.logret_mean, s.logret_stddev, s.logret_skew, s.logret_kurtosis, s.atr, s.annualized_vol,
           s.hl_range, s.volume_mean, s.volume_stddev, s.vwap)
    RETURNING 1
),
deleted AS (  -- rows of the scope whose bar is gone, or whose window length the source does not compute
    DELETE FROM analysis_rolling_stats t
    USING scope x
    WHERE t.symbol = x.symbol AND t.source_table = %(source_table)s
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (t.window_minutes <> ALL(array_remove(ARRAY[%(w1)s, %(w2)s, %(w3)s, %(w4)s, %(w5)s]::smallint[], NULL))
           OR (x.since IS NULL OR t.bar_time >= x.since)
              -- NOT IN: a hashed subplan whatever the CTE's row estimate (an anti join estimated
              -- at 1 row is a nested loop of every row against every bar)
              AND (t.symbol, t.bar_time) NOT IN (SELECT d.symbol, d.bar_time FROM day_bars d))
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted),
       (SELECT count(*) FROM stats)
