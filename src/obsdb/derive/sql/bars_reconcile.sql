-- Archived vs derived 1-minute bars: one row per differing field of a bar both sides have, and a
-- 'missing_derived' / 'missing_archived' row for a bar one side lacks, within the (symbol, KST date)s
-- that have both kinds. Params: lo, hi (bar_time bounds, NULL: open), symbol (NULL: all).
WITH bars AS (
    SELECT symbol, bar_time, origin, open, high, low, close, volume
    FROM scalp_1m_bars
    WHERE (%(symbol)s::text IS NULL OR symbol = %(symbol)s::text)
      AND (%(lo)s::timestamptz IS NULL OR bar_time >= %(lo)s::timestamptz)
      AND (%(hi)s::timestamptz IS NULL OR bar_time < %(hi)s::timestamptz)
),
a AS (SELECT * FROM bars WHERE origin = 'archived'),
d AS (SELECT * FROM bars WHERE origin = 'derived'),
days AS (
    SELECT symbol, (bar_time AT TIME ZONE 'Asia/Seoul')::date AS day FROM a
    INTERSECT
    SELECT symbol, (bar_time AT TIME ZONE 'Asia/Seoul')::date FROM d
),
pairs AS (
    SELECT coalesce(a.symbol, d.symbol) AS symbol, coalesce(a.bar_time, d.bar_time) AS bar_time,
           a.symbol IS NOT NULL AS has_a, d.symbol IS NOT NULL AS has_d,
           a.open AS a_open, a.high AS a_high, a.low AS a_low, a.close AS a_close, a.volume AS a_volume,
           d.open AS d_open, d.high AS d_high, d.low AS d_low, d.close AS d_close, d.volume AS d_volume
    FROM a FULL JOIN d ON a.symbol = d.symbol AND a.bar_time = d.bar_time
)
SELECT p.symbol, p.bar_time, v.field, v.archived, v.derived
FROM pairs p
JOIN days ON days.symbol = p.symbol AND days.day = (p.bar_time AT TIME ZONE 'Asia/Seoul')::date
CROSS JOIN LATERAL (VALUES
    (0, 'missing_derived', NULL::bigint, NULL::bigint, p.has_a AND NOT p.has_d),
    (0, 'missing_archived', NULL, NULL, p.has_d AND NOT p.has_a),
    (1, 'open', p.a_open, p.d_open, p.has_a AND p.has_d),
    (2, 'high', p.a_high, p.d_high, p.has_a AND p.has_d),
    (3, 'low', p.a_low, p.d_low, p.has_a AND p.has_d),
    (4, 'close', p.a_close, p.d_close, p.has_a AND p.has_d),
    (5, 'volume', p.a_volume, p.d_volume, p.has_a AND p.has_d)
) AS v (ord, field, archived, derived, applies)
WHERE v.applies AND (v.ord = 0 OR v.archived IS DISTINCT FROM v.derived)
ORDER BY p.symbol, p.bar_time, v.ord
