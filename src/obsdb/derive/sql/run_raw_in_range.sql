-- (KST day, symbol, source) with raw rows in [lo, hi) (the bounds of KST days), optionally one symbol.
SELECT DISTINCT (event_time AT TIME ZONE 'Asia/Seoul')::date, symbol, 'scalp_ticks'
FROM scalp_ticks
WHERE event_time >= %(lo)s::timestamptz AND event_time < %(hi)s::timestamptz
  AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s)
UNION
SELECT DISTINCT (snapshot_time AT TIME ZONE 'Asia/Seoul')::date, symbol, 'swing_snapshots'
FROM swing_snapshots
WHERE snapshot_time >= %(lo)s::timestamptz AND snapshot_time < %(hi)s::timestamptz
  AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s)
