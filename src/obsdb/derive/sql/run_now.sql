-- The current transaction's time: every computed_at a day's derive writes.
SELECT now()
