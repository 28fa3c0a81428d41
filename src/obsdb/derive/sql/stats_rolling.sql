-- Rolling statistics of a KST day for every symbol of %(symbols)s at once, for ONE window length
-- (a frame offset is one constant), over the bar table {bars} (an identifier chosen by code from a
-- fixed mapping). Formulas: docs/derive-stats.md. Parameters: symbols (text[]) and froms
-- (timestamptz[], same order: write only bars from there on; NULL: the whole day), lo, hi = the KST
-- day, origins (text[], most trusted first), source_table, window_minutes, bar_minutes,
-- bars_per_year, now = for computed_at.
-- A bar's statistics read only bars of its own frame and the one before, so bars before a symbol's
-- first changed bar keep theirs: every bar of the day is still read (windows need them), but only
-- the rows from the first change on are compared and written.
-- The frame of the bar at t is bar_time in [t - window + bar, t]: for bars on the grid that is
-- every bar that starts in (t - window, t], i.e. lies wholly inside the window ending with bar t.
-- Returns r and their powers are numeric, so every window sum is exact (no cancellation when
-- central moments come from sums of powers); only the final ratios are double precision.
-- Upserts changed rows only, deletes this window's rows whose bar is gone; answers one row:
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
    SELECT symbol, bar_time, high, low, close, volume, r, r * r AS r2, r * r * r AS r3, r * r * r * r AS r4,
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
sums AS (  -- the first bar of a frame has no return inside it: its r is taken back out
    SELECT symbol, bar_time,
           count(*) OVER w AS n_bars,
           avg(close) OVER w AS price_mean,
           stddev_samp(close) OVER w AS price_stddev,
           min(low) OVER w AS price_min,
           max(high) OVER w AS price_max,
           avg(tr) OVER w AS atr,
           avg(volume) OVER w AS volume_mean,
           stddev_samp(volume) OVER w AS volume_stddev,
           sum((high + low + close)::numeric * volume) OVER w AS pv3,
           sum(volume) OVER w AS v,
           count(r) OVER w - (first_value(r) OVER w IS NOT NULL)::int AS n,
           sum(r) OVER w - coalesce(first_value(r) OVER w, 0) AS s1,
           sum(r2) OVER w - coalesce(first_value(r2) OVER w, 0) AS s2,
           sum(r3) OVER w - coalesce(first_value(r3) OVER w, 0) AS s3,
           sum(r4) OVER w - coalesce(first_value(r4) OVER w, 0) AS s4
    FROM steps
    WINDOW w AS (PARTITION BY symbol ORDER BY bar_time
                 RANGE BETWEEN (%(window_minutes)s - %(bar_minutes)s) * interval '1 minute' PRECEDING
                           AND CURRENT ROW)
),
moments AS (  -- n^(k-1) times the k-th central sum, exact: m2n = n*M2, m3n = n^2*M3, m4n = n^3*M4
    SELECT s.*,
           n * s2 - s1 * s1 AS m2n,
           n * n * s3 - 3 * n * s1 * s2 + 2 * s1 * s1 * s1 AS m3n,
           n * n * n * s4 - 4 * n * n * s1 * s3 + 6 * n * s1 * s1 * s2 - 3 * s1 * s1 * s1 * s1 AS m4n
    FROM sums s
),
stats AS (
    SELECT symbol, bar_time,
           n_bars::integer AS bar_count,
           least(1.0, (n_bars * %(bar_minutes)s)::float8 / %(window_minutes)s) AS coverage,
           round(price_mean, 4) AS price_mean,
           round(price_stddev, 4) AS price_stddev,
           price_min, price_max,
           CASE WHEN n >= 1 THEN (s1 / n)::float8 END AS logret_mean,
           CASE WHEN n >= 2 THEN sqrt(m2n::float8 / (n * (n - 1))) END AS logret_stddev,
           CASE WHEN n >= 3 AND m2n > 0
                THEN sqrt((n * (n - 1))::float8) / (n - 2) * (m3n::float8 / power(m2n::float8, 1.5)) END
               AS logret_skew,
           CASE WHEN n >= 4 AND m2n > 0
                THEN ((n + 1) * (n - 1))::float8 / ((n - 2) * (n - 3)) * (m4n::float8 / power(m2n::float8, 2))
                     - (3 * (n - 1) * (n - 1))::float8 / ((n - 2) * (n - 3)) END AS logret_kurtosis,
           round(atr, 4) AS atr,
           CASE WHEN n >= 2 THEN sqrt(m2n::float8 / (n * (n - 1))) * sqrt(%(bars_per_year)s::float8) END
               AS annualized_vol,
           price_max - price_min AS hl_range,
           round(volume_mean, 4) AS volume_mean,
           round(volume_stddev, 4) AS volume_stddev,
           CASE WHEN v > 0 THEN round(pv3 / (3 * v), 4) END AS vwap
    FROM moments m
    WHERE EXISTS (SELECT 1 FROM scope x WHERE x.symbol = m.symbol AND (x.since IS NULL OR m.bar_time >= x.since))
),
upserted AS (
    INSERT INTO analysis_rolling_stats AS t (
        symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
        price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
        annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at)
    SELECT symbol, %(source_table)s, %(window_minutes)s, bar_time, bar_count, coverage, price_mean,
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
),
deleted AS (
    DELETE FROM analysis_rolling_stats t
    USING scope x
    WHERE t.symbol = x.symbol AND t.source_table = %(source_table)s
      AND t.window_minutes = %(window_minutes)s
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (x.since IS NULL OR t.bar_time >= x.since)
      -- probe the bar table's key, not the day_bars CTE: a CTE has no index and its row estimate
      -- can be 1, which made this a nested loop of every row against every bar (minutes per day)
      AND NOT EXISTS (SELECT 1 FROM {bars} b WHERE b.symbol = t.symbol AND b.bar_time = t.bar_time
                                            AND b.origin = ANY(%(origins)s::text[]))
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM deleted), (SELECT count(*) FROM stats)
