-- --reload-retired: these tables' retired ranges may be loaded again (kept, marked released).
UPDATE obsdb_retired SET released_at = now()
WHERE table_name = ANY(%(tables)s::text[]) AND released_at IS NULL
RETURNING table_name, nullif(range_start, '-infinity') AS range_start, range_end, partition_name, archive_path
