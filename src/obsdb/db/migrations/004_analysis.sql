-- Analysis: rolling statistics over bars, threshold candidates and signal events.
-- Statistics are double precision (they are estimates, not money); price-valued columns are numeric.

CREATE TABLE analysis_rolling_stats (
    symbol          text        NOT NULL CHECK (symbol <> ''),
    source_table    text        NOT NULL CHECK (source_table IN ('scalp_1m_bars', 'swing_bars_10m')),
    window_minutes  integer     NOT NULL CHECK (window_minutes IN (5, 10, 30, 60, 240)),
    bar_time        timestamptz NOT NULL,  -- start of the last bar in the window
    bar_count       integer     NOT NULL CHECK (bar_count >= 0),
    coverage        double precision CHECK (coverage BETWEEN 0 AND 1),
    price_mean      numeric(20, 4) CHECK (price_mean >= 0),
    price_stddev    numeric(20, 4) CHECK (price_stddev >= 0),
    price_min       bigint CHECK (price_min >= 0),
    price_max       bigint CHECK (price_max >= 0),
    logret_mean     double precision,
    logret_stddev   double precision CHECK (logret_stddev >= 0),
    logret_skew     double precision,
    logret_kurtosis double precision,
    atr             numeric(20, 4) CHECK (atr >= 0),
    annualized_vol  double precision CHECK (annualized_vol >= 0),
    hl_range        bigint CHECK (hl_range >= 0),
    volume_mean     numeric(24, 4) CHECK (volume_mean >= 0),
    volume_stddev   numeric(24, 4) CHECK (volume_stddev >= 0),
    vwap            numeric(20, 4) CHECK (vwap >= 0),
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, source_table, window_minutes, bar_time),
    CHECK (price_min IS NULL OR price_max IS NULL OR price_min <= price_max)
);
CREATE INDEX analysis_rolling_stats_bar_time_idx ON analysis_rolling_stats (bar_time);

CREATE TABLE analysis_threshold_candidates (
    symbol          text        NOT NULL CHECK (symbol <> ''),
    metric          text        NOT NULL CHECK (metric <> ''),
    window_minutes  integer     NOT NULL CHECK (window_minutes > 0),
    as_of           timestamptz NOT NULL,
    direction       text        NOT NULL CHECK (direction IN ('above', 'below')),
    threshold       numeric(24, 8) NOT NULL,
    score           double precision,
    sample_size     integer CHECK (sample_size >= 0),
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (symbol, metric, window_minutes, as_of, direction)
);

CREATE TABLE analysis_signal_events (
    symbol          text        NOT NULL CHECK (symbol <> ''),
    event_time      timestamptz NOT NULL,
    signal_type     text        NOT NULL CHECK (signal_type <> ''),
    direction       text        CHECK (direction IN ('up', 'down', 'neutral')),
    value           numeric(24, 8),
    threshold       numeric(24, 8),
    window_minutes  integer CHECK (window_minutes > 0),
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (symbol, event_time, signal_type)
);
CREATE INDEX analysis_signal_events_time_idx ON analysis_signal_events (event_time);
