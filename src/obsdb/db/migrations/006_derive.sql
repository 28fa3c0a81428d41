-- Derive bookkeeping: which (symbol, KST date) received new raw rows since the last derive.
-- The loader marks them in the same transaction as the rows; derive consumes them in its own.

CREATE TABLE obsdb_derive_dirty (
    symbol        text NOT NULL,
    kst_date      date NOT NULL,
    source_table  text NOT NULL CHECK (source_table IN ('scalp_ticks', 'swing_snapshots')),
    marked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, kst_date, source_table)
);

-- Raw rows loaded before this migration have never been derived: mark their days once.
INSERT INTO obsdb_derive_dirty (symbol, kst_date, source_table)
SELECT DISTINCT symbol, (event_time AT TIME ZONE 'Asia/Seoul')::date, 'scalp_ticks' FROM scalp_ticks
UNION
SELECT DISTINCT symbol, (snapshot_time AT TIME ZONE 'Asia/Seoul')::date, 'swing_snapshots' FROM swing_snapshots
ON CONFLICT DO NOTHING;
