-- The NOT NULL columns of a new staging table (LIKE copies them), to be made nullable.
SELECT attname::text FROM pg_attribute
WHERE attrelid = %(stage)s::regclass AND attnum > 0 AND attnotnull AND NOT attisdropped
