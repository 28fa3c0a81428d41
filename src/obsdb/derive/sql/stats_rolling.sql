-- Writes the rolling statistics of obsdb_stats (stats_in_view.sql: what derive/windows.py computed
-- for the symbols of %(symbols)s on one KST day, lo .. hi, over source_table) minimally: inserts
-- new rows, updates changed ones only, deletes rows of the scope that were not computed (their bar
-- is gone) and rows of a window length the source does not compute (%(w1)s .. %(w5)s: the lengths
-- it does; NULL: slot unused). froms (timestamptz[], same order as symbols): the scope of a symbol
-- is its rows from there on (NULL: the whole day); only those were computed. now = computed_at.
-- Answers one row: (written, deleted).
WITH scope AS (
    SELECT x.symbol, x.since
    FROM unnest(%(symbols)s::text[], %(froms)s::timestamptz[]) AS x (symbol, since)
),
-- No CTE over the view: one referenced three times is materialised (a day's 80,000 wide rows spill
-- to a temporary file and are read back); a fresh day computes the view once, in the INSERT.

existing AS (  -- the keys the scope has now, of the lengths computed (none on a fresh day)
    SELECT t.symbol, t.window_minutes, t.bar_time
    FROM analysis_rolling_stats t JOIN scope x ON x.symbol = t.symbol
    WHERE t.source_table = %(source_table)s
      -- the key's window_minutes bound: one index range per symbol and length, not every day of
      -- the symbol's history in the partition read past the bar_time bounds
      AND t.window_minutes = ANY(array_remove(ARRAY[%(w1)s, %(w2)s, %(w3)s, %(w4)s, %(w5)s]::smallint[], NULL))
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (x.since IS NULL OR t.bar_time >= x.since)
),
-- New keys are a plain INSERT and changed rows an UPDATE, not one INSERT .. ON CONFLICT: its
-- speculative insertion costs half as much again per row, and a fresh day is all new rows. No one
-- else writes these keys meanwhile: derive holds the day's lock (derive/run.py).
-- NOT IN / IN: hashed subplans whatever the CTE's row estimate (see deleted below).
inserted AS (
    INSERT INTO analysis_rolling_stats (
        symbol, source_table, window_minutes, bar_time, bar_count, coverage, price_mean, price_stddev,
        price_min, price_max, logret_mean, logret_stddev, logret_skew, logret_kurtosis, atr,
        annualized_vol, hl_range, volume_mean, volume_stddev, vwap, computed_at)
    SELECT (%(symbols)s::text[])[s.s], %(source_table)s, window_minutes, bar_time, bar_count, coverage,
           price_mean, price_stddev, price_min, price_max, logret_mean, logret_stddev, logret_skew,
           logret_kurtosis, atr, annualized_vol, hl_range, volume_mean, volume_stddev, vwap, %(now)s::timestamptz
    FROM obsdb_stats s
    WHERE ((%(symbols)s::text[])[s.s], s.window_minutes, s.bar_time) NOT IN (SELECT e.symbol, e.window_minutes, e.bar_time FROM existing e)
    RETURNING 1
),
updated AS (
    UPDATE analysis_rolling_stats t SET
        bar_count = s.bar_count, coverage = s.coverage, price_mean = s.price_mean,
        price_stddev = s.price_stddev, price_min = s.price_min, price_max = s.price_max,
        logret_mean = s.logret_mean, logret_stddev = s.logret_stddev, logret_skew = s.logret_skew,
        logret_kurtosis = s.logret_kurtosis, atr = s.atr, annualized_vol = s.annualized_vol,
        hl_range = s.hl_range, volume_mean = s.volume_mean, volume_stddev = s.volume_stddev,
        vwap = s.vwap, computed_at = %(now)s::timestamptz
    FROM obsdb_stats s
    -- EXISTS: a one-time filter, so a fresh day (no existing keys) probes no key at all
    WHERE EXISTS (SELECT FROM existing)
      AND ((%(symbols)s::text[])[s.s], s.window_minutes, s.bar_time) IN (SELECT e.symbol, e.window_minutes, e.bar_time FROM existing e)
      AND t.symbol = (%(symbols)s::text[])[s.s] AND t.source_table = %(source_table)s AND t.window_minutes = s.window_minutes
      AND t.bar_time = s.bar_time
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (t.bar_count, t.coverage, t.price_mean, t.price_stddev, t.price_min, t.price_max,
           t.logret_mean, t.logret_stddev, t.logret_skew, t.logret_kurtosis, t.atr, t.annualized_vol,
           t.hl_range, t.volume_mean, t.volume_stddev, t.vwap)
          IS DISTINCT FROM
          (s.bar_count, s.coverage, s.price_mean, s.price_stddev, s.price_min, s.price_max,
           s.logret_mean, s.logret_stddev, s.logret_skew, s.logret_kurtosis, s.atr, s.annualized_vol,
           s.hl_range, s.volume_mean, s.volume_stddev, s.vwap)
    RETURNING 1
),
deleted AS (  -- rows of the scope whose bar is gone, or whose window length the source does not compute
    DELETE FROM analysis_rolling_stats t
    USING scope x
    WHERE t.symbol = x.symbol AND t.source_table = %(source_table)s
      AND t.bar_time >= %(lo)s::timestamptz AND t.bar_time < %(hi)s::timestamptz
      AND (t.window_minutes <> ALL(array_remove(ARRAY[%(w1)s, %(w2)s, %(w3)s, %(w4)s, %(w5)s]::smallint[], NULL))
           OR (x.since IS NULL OR t.bar_time >= x.since)
              -- NOT IN: a hashed subplan whatever the row estimate (an anti join estimated at 1
              -- row is a nested loop of every row against every computed one)
              AND (t.symbol, t.window_minutes, t.bar_time) NOT IN (
                  SELECT (%(symbols)s::text[])[i.s], i.window_minutes, i.bar_time FROM obsdb_stats_in i))
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted)
