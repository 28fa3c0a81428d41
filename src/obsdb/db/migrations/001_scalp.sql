-- Scalp: real-time ticks, 1-minute bars and collection gaps.
-- Prices are integer KRW (bigint: exact and the fastest type to COPY). Every key includes symbol
-- so the tables can be distributed by symbol (Citus) unchanged.
-- quality_flag is 'normal' or a comma-separated list of flags; source_quality_flag keeps the
-- collector's own flag verbatim. extra keeps any field this version does not map, so nothing is
-- dropped. src_file_id/src_line say which ledger stream and line a row came from.

CREATE TABLE scalp_ticks (
    symbol              text        NOT NULL CHECK (symbol <> ''),
    event_time          timestamptz NOT NULL,  -- receive time at the collector
    exchange_time       timestamptz,           -- KRX trade time (KST date of event_time + execution_time)
    last_price          bigint CHECK (last_price >= 0),
    bid_price           bigint CHECK (bid_price >= 0),
    ask_price           bigint CHECK (ask_price >= 0),
    bid_size            bigint CHECK (bid_size >= 0),
    ask_size            bigint CHECK (ask_size >= 0),
    day_open            bigint CHECK (day_open >= 0),
    day_high            bigint CHECK (day_high >= 0),
    day_low             bigint CHECK (day_low >= 0),
    change_rate         double precision,      -- percent vs previous close, as the collector sent it
    cum_volume          bigint CHECK (cum_volume >= 0),
    cum_trade_value     bigint CHECK (cum_trade_value >= 0),
    volume              bigint CHECK (volume >= 0),  -- this trade's volume, when the record states it
    trade_count         bigint CHECK (trade_count >= 0),
    mitigation_level    smallint,
    session_id          text,
    source              text,
    record_shape        text        NOT NULL CHECK (record_shape IN ('A', 'B', 'C', 'D')),
    quality_flag        text        NOT NULL DEFAULT 'normal'
                        CHECK (quality_flag ~ '^[a-z_]+(,[a-z_]+)*$'),
    source_quality_flag text,
    extra               jsonb,
    src_file_id         bigint,
    src_line            bigint,
    PRIMARY KEY (symbol, event_time)
) PARTITION BY RANGE (event_time);

-- Feed-wide scans by time (gap detection, derive by date) on an append-mostly table: BRIN is tiny.
CREATE INDEX scalp_ticks_event_time_brin ON scalp_ticks USING brin (event_time);

-- Monthly partitions (KST months), created on demand by the loader before it COPYs. Serialised by
-- an advisory lock so concurrent loaders never race on CREATE TABLE.
CREATE FUNCTION obsdb_ensure_tick_partitions(lo timestamptz, hi timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m       timestamp := date_trunc('month', lo AT TIME ZONE 'Asia/Seoul');
    last_m  timestamp := date_trunc('month', hi AT TIME ZONE 'Asia/Seoul');
    part    text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('obsdb.scalp_ticks.partitions'));
    WHILE m <= last_m LOOP
        part := 'scalp_ticks_' || to_char(m, 'YYYYMM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF scalp_ticks FOR VALUES FROM (%L) TO (%L)',
                part, (m AT TIME ZONE 'Asia/Seoul'), ((m + interval '1 month') AT TIME ZONE 'Asia/Seoul'));
            created := created + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END;
$$;

CREATE TABLE scalp_1m_bars (
    symbol              text        NOT NULL CHECK (symbol <> ''),
    bar_time            timestamptz NOT NULL,  -- bucket start, KST-aligned minute
    origin              text        NOT NULL CHECK (origin IN ('derived', 'archived')),
    open                bigint      NOT NULL CHECK (open >= 0),
    high                bigint      NOT NULL CHECK (high >= 0),
    low                 bigint      NOT NULL CHECK (low >= 0),
    close               bigint      NOT NULL CHECK (close >= 0),
    volume              bigint      CHECK (volume >= 0),
    tick_count          integer     CHECK (tick_count >= 0),
    coverage_ratio      numeric(5, 4) CHECK (coverage_ratio BETWEEN 0 AND 1),
    quality_flag        text        NOT NULL DEFAULT 'normal'
                        CHECK (quality_flag ~ '^[a-z_]+(,[a-z_]+)*$'),
    session_id          text,
    source_quality_flag text,
    extra               jsonb,
    src_file_id         bigint,
    src_line            bigint,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, bar_time, origin),
    CHECK (low <= high AND low <= open AND open <= high AND low <= close AND close <= high)
);
CREATE INDEX scalp_1m_bars_bar_time_idx ON scalp_1m_bars (bar_time);

-- symbol NULL means the whole feed; NULLS NOT DISTINCT keeps one row per feed gap as well.
CREATE TABLE scalp_gaps (
    gap_id              bigint GENERATED ALWAYS AS IDENTITY,
    symbol              text CHECK (symbol <> ''),
    gap_start_ts        timestamptz NOT NULL,
    gap_end_ts          timestamptz NOT NULL,
    gap_seconds         numeric(12, 3) NOT NULL CHECK (gap_seconds >= 0),
    scope               text NOT NULL CHECK (scope IN ('feed', 'symbol', 'swing')),
    reason              text,
    session_id          text,
    origin              text NOT NULL CHECK (origin IN ('derived', 'archived')),
    -- fields of the collector's own gap ledger (shape G), kept verbatim
    track_type          text,
    gap_type            text,
    expected_interval_seconds numeric(12, 3) CHECK (expected_interval_seconds >= 0),
    detected_at         timestamptz,
    recorded_at         timestamptz,
    extra               jsonb,
    src_file_id         bigint,
    src_line            bigint,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (gap_end_ts >= gap_start_ts),
    CHECK ((scope = 'feed') = (symbol IS NULL)),  -- a feed gap is the whole feed's, nothing else is
    UNIQUE NULLS NOT DISTINCT (symbol, gap_start_ts, scope, origin)
);
CREATE INDEX scalp_gaps_start_idx ON scalp_gaps (gap_start_ts);
