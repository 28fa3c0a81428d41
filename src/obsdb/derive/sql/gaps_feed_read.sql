-- The day's derived feed gaps as two arrays (starts, ends), in time order: read once per day and
-- handed to the per-symbol steps as parameters (feed gaps are cross-symbol). Params: lo, hi.
SELECT coalesce(array_agg(gap_start_ts ORDER BY gap_start_ts), '{}'),
       coalesce(array_agg(gap_end_ts ORDER BY gap_start_ts), '{}')
FROM scalp_gaps
WHERE symbol = '*' AND scope = 'feed' AND origin = 'derived'
  AND gap_start_ts < %(hi)s::timestamptz AND gap_end_ts > %(lo)s::timestamptz
