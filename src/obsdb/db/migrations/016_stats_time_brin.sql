-- The statistics' time index becomes a BRIN index, as the ticks' is (001): same name stem, same
-- column, a fraction of the upkeep.
--
-- Why: derive writes some 84,000 statistics rows a trading day (five windows by two sources by
-- every bar), and the B-tree on bar_time was a quarter of what each of those rows cost to write
-- (one day's COPY: 1.1 s with it, 0.7-0.9 s without; docs/performance.md, "7 December, night").
-- Rows are written a day at a time, so the heap follows bar_time and a block range covers about a
-- day: a time-range query reads that day's blocks, not the month's. Lookups by symbol (the usual
-- question) use the primary key, whose first columns are symbol, window_minutes and bar_time.
-- autosummarize: where autovacuum runs, it summarises each block range once it fills; derive
-- summarises the rest before it reads (derive/upkeep.py).
--
-- Drops the old index first, so each partition's new one takes the name PostgreSQL gives it (the
-- old one's, <partition>_bar_time_idx, as the ticks' BRIN indexes are named), not a numbered one;
-- then builds the new index on every partition (a scan of the table). One transaction: a failure
-- keeps the old index.

LOCK TABLE analysis_rolling_stats IN SHARE MODE;
DROP INDEX analysis_rolling_stats_bar_time_idx;
CREATE INDEX analysis_rolling_stats_bar_time_brin ON analysis_rolling_stats USING brin (bar_time)
    WITH (autosummarize = on);
