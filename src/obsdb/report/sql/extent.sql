-- The days the derived tables cover, cheaply: min/max over the bar_time and gap_start_ts indexes
-- (no scan of scalp_ticks, whatever its size). Returns (first, last) timestamptz, NULL when empty.
SELECT least((SELECT min(bar_time) FROM scalp_1m_bars), (SELECT min(bar_time) FROM swing_bars_10m),
             (SELECT min(gap_start_ts) FROM scalp_gaps)),
       greatest((SELECT max(bar_time) FROM scalp_1m_bars), (SELECT max(bar_time) FROM swing_bars_10m),
                (SELECT max(gap_start_ts) FROM scalp_gaps))
