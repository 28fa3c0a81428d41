-- What derive/windows.py computed for one source and day: each window's exact integer sums (the
-- numeric statistics are made of them in the view obsdb_stats, stats_in_view.sql, rounded as
-- PostgreSQL rounds), its number of returns and whether they differ, and its double precision
-- statistics as computed (the view makes the undefined ones NULL). Written by a binary COPY laid
-- out by numpy, so every column is NOT NULL; s is the symbol's 1-based index in the statement's
-- symbols parameter. Temporary (this session's own), emptied at every commit and before each source
-- (stats_in_empty.sql). The sums are numeric: a window's sum of squared volumes can pass bigint.
CREATE TEMPORARY TABLE IF NOT EXISTS obsdb_stats_in (
    s               integer     NOT NULL,
    window_minutes  integer     NOT NULL,
    bar_time        timestamptz NOT NULL,
    bar_count       integer     NOT NULL,
    coverage        float8      NOT NULL,
    sx              numeric     NOT NULL,  -- sum of closes
    q_x             numeric     NOT NULL,  -- bar_count * sum(close^2) - sx^2
    s_tr            numeric     NOT NULL,  -- sum of true ranges
    n_v             bigint      NOT NULL,  -- bars with a volume
    sv              numeric     NOT NULL,  -- sum of volumes
    q_v             numeric     NOT NULL,  -- n_v * sum(volume^2) - sv^2
    pv3             numeric     NOT NULL,  -- sum of (high + low + close) * volume
    price_min       bigint      NOT NULL,
    price_max       bigint      NOT NULL,
    n_r             integer     NOT NULL,  -- log returns in the window
    spread          boolean     NOT NULL,  -- not all of them equal
    logret_mean     float8      NOT NULL,
    logret_stddev   float8      NOT NULL,
    logret_skew     float8      NOT NULL,
    logret_kurtosis float8      NOT NULL,
    annualized_vol  float8      NOT NULL
) ON COMMIT DELETE ROWS
