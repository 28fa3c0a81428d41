-- A derive mark also says where the (symbol, KST day) changed: the earliest event time of the ticks
-- the loader wrote for it since the day was last derived (the marks merge with least(); NULL means
-- "anywhere in the day", as every mark made before this migration does). Derive recomputes a
-- symbol's gaps only from an anchor before that point that is provably unaffected, so a live
-- increment reads seconds of ticks instead of the day (docs/derive.md). Nothing else changes.
ALTER TABLE obsdb_derive_dirty ADD COLUMN since timestamptz;
