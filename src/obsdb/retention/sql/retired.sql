-- The ranges of one table that must not be loaded again (not released).
SELECT nullif(range_start, '-infinity') AS range_start, range_end
FROM obsdb_retired
WHERE table_name = %(table)s AND released_at IS NULL
ORDER BY obsdb_retired.range_start
