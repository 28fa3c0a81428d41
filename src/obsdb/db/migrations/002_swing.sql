-- Swing: raw REST polls (day-to-date snapshots, not bars) and true 10-minute bars.

CREATE TABLE swing_snapshots (
    symbol              text        NOT NULL CHECK (symbol <> ''),
    snapshot_time       timestamptz NOT NULL,  -- the collector's write time (`ts`)
    day_open            bigint CHECK (day_open >= 0),
    day_high            bigint CHECK (day_high >= 0),
    day_low             bigint CHECK (day_low >= 0),
    price               bigint CHECK (price >= 0),  -- current price (`price.close`)
    cum_volume          bigint CHECK (cum_volume >= 0),
    bid_price           bigint CHECK (bid_price >= 0),
    ask_price           bigint CHECK (ask_price >= 0),
    session_id          text,
    dataset             text,
    market              text,
    source              text,
    record_shape        text        NOT NULL CHECK (record_shape IN ('F', 'F_mock')),
    quality_flag        text        NOT NULL DEFAULT 'normal'
                        CHECK (quality_flag ~ '^[a-z_]+(,[a-z_]+)*$'),
    source_quality_flag text,
    extra               jsonb,
    src_file_id         bigint,
    src_line            bigint,
    PRIMARY KEY (symbol, snapshot_time)
);
CREATE INDEX swing_snapshots_time_idx ON swing_snapshots (snapshot_time);

CREATE TABLE swing_bars_10m (
    symbol              text        NOT NULL CHECK (symbol <> ''),
    bar_time            timestamptz NOT NULL,  -- bucket start: 09:00, 09:10, ... KST
    origin              text        NOT NULL CHECK (origin IN ('ticks', 'snapshots', 'archived')),
    open                bigint      NOT NULL CHECK (open >= 0),
    high                bigint      NOT NULL CHECK (high >= 0),
    low                 bigint      NOT NULL CHECK (low >= 0),
    close               bigint      NOT NULL CHECK (close >= 0),
    volume              bigint      CHECK (volume >= 0),
    bar_count           integer     CHECK (bar_count >= 0),  -- 1m bars or snapshots used
    coverage_ratio      numeric(5, 4) CHECK (coverage_ratio BETWEEN 0 AND 1),
    bid_price           bigint CHECK (bid_price >= 0),
    ask_price           bigint CHECK (ask_price >= 0),
    quality_flag        text        NOT NULL DEFAULT 'normal'
                        CHECK (quality_flag ~ '^[a-z_]+(,[a-z_]+)*$'),
    session_id          text,
    schema_version      text,
    mitigation_level    smallint,
    source_quality_flag text,
    extra               jsonb,
    src_file_id         bigint,
    src_line            bigint,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, bar_time, origin),
    CHECK (low <= high AND low <= open AND open <= high AND low <= close AND close <= high)
);
CREATE INDEX swing_bars_10m_bar_time_idx ON swing_bars_10m (bar_time);
