SELECT DISTINCT kst_date FROM obsdb_derive_dirty ORDER BY kst_date
