-- (KST day, symbol, source) with raw rows in [start, end] (KST dates), optionally one symbol.
SELECT DISTINCT (event_time AT TIME ZONE 'Asia/Seoul')::date, symbol, 'scalp_ticks'
FROM scalp_ticks
WHERE event_time >= (%(start)s::date)::timestamp AT TIME ZONE 'Asia/Seoul'
  AND event_time < ((%(end)s::date + 1)::timestamp) AT TIME ZONE 'Asia/Seoul'
  AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s)
UNION
SELECT DISTINCT (snapshot_time AT TIME ZONE 'Asia/Seoul')::date, symbol, 'swing_snapshots'
FROM swing_snapshots
WHERE snapshot_time >= (%(start)s::date)::timestamp AT TIME ZONE 'Asia/Seoul'
  AND snapshot_time < ((%(end)s::date + 1)::timestamp) AT TIME ZONE 'Asia/Seoul'
  AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s)
