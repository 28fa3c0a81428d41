-- The marks of one KST day, taken (deleted) by the transaction that recomputes the day; since =
-- where the symbol's day changed (013; NULL = anywhere).
DELETE FROM obsdb_derive_dirty WHERE kst_date = %(day)s RETURNING symbol, source_table, since
