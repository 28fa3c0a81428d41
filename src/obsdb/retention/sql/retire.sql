-- The range a retired partition covered, in the same transaction as its DROP: the range is retired
-- exactly when the rows are gone.
INSERT INTO obsdb_retired (table_name, range_start, range_end, partition_name, row_count, rows_sha256,
                           archive_path, archive_bytes)
VALUES (%(table)s, coalesce(%(range_start)s, '-infinity'::timestamptz), %(range_end)s, %(partition)s,
        %(rows)s, %(sha256)s, %(archive_path)s, %(archive_bytes)s)
RETURNING retired_id
