-- The newest %(limit)s load and derive runs, oldest first. Rows: rows_loaded for a load, the sum of
-- the rows written per table for a derive. Duration from the run's own clock (started..finished).
SELECT run_id, kind, status, started_at, finished_at,
       extract(epoch FROM finished_at - started_at) AS seconds,
       CASE WHEN kind = 'migrate' THEN (totals ->> 'rows_loaded')::bigint
            ELSE (SELECT sum(value::bigint) FROM jsonb_each_text(coalesce(totals -> 'tables', '{}'::jsonb)))
       END AS rows,
       (totals ->> 'rejected')::bigint AS rejected,
       (totals ->> 'files')::bigint AS files,
       (totals ->> 'duplicates')::bigint AS duplicates
FROM (SELECT * FROM obsdb_load_runs ORDER BY run_id DESC LIMIT %(limit)s) AS r
ORDER BY run_id
