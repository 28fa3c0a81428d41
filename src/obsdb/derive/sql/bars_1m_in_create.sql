-- The 1-minute buckets derive/minutes.py summed from a day's ticks, before coverage and flags
-- (bars_1m.sql). Temporary (this session's own), emptied at every commit and before each day
-- (bars_1m_in_empty.sql). s is the symbol's 1-based index in the statement's %(symbols)s.
CREATE TEMPORARY TABLE IF NOT EXISTS obsdb_bars_in (
    s           integer     NOT NULL,
    bar_time    timestamptz NOT NULL,
    open        bigint      NOT NULL,
    high        bigint      NOT NULL,
    low         bigint      NOT NULL,
    close       bigint      NOT NULL,
    tick_count  integer     NOT NULL,
    raw_volume  bigint      NOT NULL,  -- meaningful only when has_volume; negative: inconsistent
    has_volume  boolean     NOT NULL,
    partial     boolean     NOT NULL   -- a cumulative volume, but none carried from before
) ON COMMIT DELETE ROWS
