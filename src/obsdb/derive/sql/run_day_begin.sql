-- The start of a day's transaction. The lock: one derive at a time per KST day (a second one waits,
-- then finds the marks taken), so the day's statements may INSERT new keys without ON CONFLICT.
-- work_mem: the day's bars, frames and statistics (tens of MB on a 2M-tick day) stay in memory
-- instead of spilling to temporary files; raised for this transaction only, never lowered.
SELECT pg_advisory_xact_lock(hashtext('obsdb.derive.day'), %(day)s::date - date '2000-01-01'),
       CASE WHEN pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('64MB')
            THEN set_config('work_mem', '64MB', true) END
