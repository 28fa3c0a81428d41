-- Derive bookkeeping: which (symbol, KST date) received new raw rows since the last derive.
-- The loader marks them in the same transaction as the rows; derive consumes them in its own.

CREATE TABLE obsdb_derive_dirty (
    symbol        text NOT NULL,
    kst_date      date NOT NULL,
    source_table  text NOT NULL CHECK (source_table IN ('scalp_ticks', 'swing_snapshots')),
    marked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, kst_date, source_table)
);
