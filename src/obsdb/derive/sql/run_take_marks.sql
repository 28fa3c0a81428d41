-- The marks of one KST day, taken (deleted) by the transaction that recomputes the day.
DELETE FROM obsdb_derive_dirty WHERE kst_date = %(day)s RETURNING symbol, source_table
