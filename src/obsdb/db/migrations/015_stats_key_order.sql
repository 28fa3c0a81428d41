-- The statistics' primary key in the order a lookup narrows it: symbol, window length, bar time,
-- then the source (one of two tables). Same columns, same uniqueness; only the index's column
-- order changes, so every query that used the key still does (symbol, window and a time range are
-- one index range; the source is the last key column).
--
-- Why: derive inserts some 78,000 rows a day here, and half of derive's time was this index. With
-- source_table second, every comparison in the index went through a second text column to reach the
-- window and time; now it ends at the time for all but equal keys. One day's INSERT: 0.59-0.62 s
-- against 0.79 s (docs/performance.md, "7 December, evening").
--
-- Rebuilds the key's index on every partition, under an ACCESS EXCLUSIVE lock, once.
-- One action per ALTER TABLE: Citus refuses ADD CONSTRAINT next to other subcommands.

LOCK TABLE analysis_rolling_stats IN ACCESS EXCLUSIVE MODE;
ALTER TABLE analysis_rolling_stats DROP CONSTRAINT analysis_rolling_stats_pkey;
ALTER TABLE analysis_rolling_stats ADD CONSTRAINT analysis_rolling_stats_pkey
    PRIMARY KEY (symbol, window_minutes, bar_time, source_table);
