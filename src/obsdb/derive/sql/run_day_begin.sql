-- The start of a day's transaction. The lock: one derive at a time per KST day (a second one waits,
-- then finds the marks taken), so the day's statements may INSERT new keys without ON CONFLICT.
-- On Citus (%(one_at_a_time)s) one day at a time in the whole database: two days' multi-shard
-- writes, from two processes, lock the same shards in different orders (a distributed deadlock).
-- work_mem: the day's bars, frames and statistics (tens of MB on a 2M-tick day) stay in memory
-- instead of spilling to temporary files; raised for this transaction only, never lowered.
-- jit off: the day's statements run for a second or two, and compiling them cost more than it gave
-- (a 2M-tick day: 0.3-1.1 s of JIT per statement, 2 s of the day's 19; auto_explain).
SELECT pg_advisory_xact_lock(hashtext('obsdb.derive.day'),
                             CASE WHEN %(one_at_a_time)s THEN -1 ELSE %(day)s::date - date '2000-01-01' END),
       CASE WHEN pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('64MB')
            THEN set_config('work_mem', '64MB', true) END,
       set_config('jit', 'off', true)
