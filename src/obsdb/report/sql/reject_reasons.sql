-- Rejects grouped by field and the reason's kind (the text before its first ': ', which usually
-- quotes the bad value), largest groups first, with one example line each (the earliest stored).
SELECT field, kind, count, path, line_no, reason, substring(raw_line FROM 1 FOR %(example_bytes)s) AS raw_line,
       octet_length(raw_line) AS raw_bytes
FROM (
    SELECT r.*, split_part(r.reason, ': ', 1) AS kind,
           count(*) OVER (PARTITION BY r.field, split_part(r.reason, ': ', 1)) AS count,
           row_number() OVER (PARTITION BY r.field, split_part(r.reason, ': ', 1)
                              ORDER BY r.rejected_at, r.file_id, r.line_no) AS n
    FROM obsdb_rejects r
) AS x
WHERE n = 1
ORDER BY count DESC, field NULLS FIRST, kind
LIMIT %(limit)s
