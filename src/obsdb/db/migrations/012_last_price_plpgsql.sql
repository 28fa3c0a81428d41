-- obsdb_last_price (010) again, in PL/pgSQL: same signature, same rule, same results. Citus cannot
-- plan a parameterised LANGUAGE sql function over distributed tables ("Consider using PL/pgSQL
-- functions instead"); a PL/pgSQL body is planned statement by statement, and each of its three
-- lookups is a router query on the symbol's shard. CREATE OR REPLACE keeps the views that use it.
-- Also rebalance_execution_quality's fill VWAP, for the same reason (below).
CREATE OR REPLACE FUNCTION obsdb_last_price(p_symbol text, p_at timestamptz)
RETURNS TABLE (price bigint, price_time timestamptz, price_source text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT t.last_price, t.event_time, 'tick'::text FROM scalp_ticks t
    WHERE t.symbol = p_symbol AND t.event_time <= p_at AND t.last_price > 0
      AND NOT ('suspect' = ANY (string_to_array(t.quality_flag, ',')))
    ORDER BY t.event_time DESC LIMIT 1;
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.price, s.snapshot_time, 'snapshot'::text FROM swing_snapshots s
    WHERE s.symbol = p_symbol AND s.snapshot_time <= p_at AND s.price > 0
      AND NOT ('suspect' = ANY (string_to_array(s.quality_flag, ',')))
    ORDER BY s.snapshot_time DESC LIMIT 1;
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT b.close, b.bar_time + interval '1 minute', 'bar_1m'::text FROM scalp_1m_bars b
    WHERE b.symbol = p_symbol AND b.bar_time + interval '1 minute' <= p_at AND b.close > 0
    ORDER BY b.bar_time DESC LIMIT 1;
END
$$;

-- The VWAP of a symbol's ticks in the minute of a fill (the LATERAL subquery of 010's
-- rebalance_execution_quality, as a function): Citus refuses a lateral outer join from a reference
-- table (rebalance_execution) to a distributed subquery; each call is a router query on one shard.
CREATE FUNCTION obsdb_fill_vwap(p_symbol text, p_executed_at timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT sum(w.last_price * w.vol)::numeric / nullif(sum(w.vol), 0) AS vwap
        FROM (
            SELECT k.last_price, k.tick_time,
                   coalesce(k.volume, k.cum_volume - lag(k.cum_volume) OVER (ORDER BY k.tick_time, k.event_time)) AS vol
            FROM (SELECT t.*, coalesce(t.exchange_time, t.event_time) AS tick_time FROM scalp_ticks t
                  WHERE t.symbol = p_symbol
                    AND t.event_time >= date_trunc('minute', p_executed_at) - interval '2 minutes'
                    AND t.event_time < date_trunc('minute', p_executed_at) + interval '2 minutes'
                    AND t.last_price > 0
                    AND NOT (string_to_array(t.quality_flag, ',') && ARRAY['suspect', 'outside_session', 'non_trading_day'])
                 ) k
        ) w
        WHERE w.tick_time >= date_trunc('minute', p_executed_at)
          AND w.tick_time < date_trunc('minute', p_executed_at) + interval '1 minute'
          AND w.vol > 0
    );
END
$$;

-- The same view as 010 (same columns, same results), the VWAP through the function above.
CREATE OR REPLACE VIEW rebalance_execution_quality AS
WITH fills AS (
    SELECT x.order_id, x.symbol, x.quantity, x.price, x.fee, x.executed_at,
           obsdb_fill_vwap(x.symbol, x.executed_at) AS vwap
    FROM rebalance_execution x
),
per_order AS (
    SELECT f.order_id, sum(f.quantity) AS filled_quantity, sum(f.quantity * f.price) AS filled_value,
           sum(f.fee) AS fees, count(*) AS fills,
           sum(f.quantity * (f.price - f.vwap) / f.vwap) FILTER (WHERE f.vwap IS NOT NULL) AS vwap_diff,
           sum(f.quantity) FILTER (WHERE f.vwap IS NOT NULL) AS vwap_quantity
    FROM fills f GROUP BY f.order_id
)
SELECT o.order_id, o.plan_id, o.symbol, o.side, o.quantity, o.limit_price, o.created_at, o.status,
       coalesce(po.filled_quantity, 0)::bigint AS filled_quantity,
       round(coalesce(po.filled_quantity, 0)::numeric / o.quantity, 8) AS fill_ratio,
       round(po.filled_value::numeric / po.filled_quantity, 4) AS avg_fill_price,
       coalesce(po.fees, 0) AS fees,
       CASE WHEN po.filled_quantity IS NULL THEN 'new'
            WHEN po.filled_quantity < o.quantity THEN 'partially_filled'
            ELSE 'filled' END AS implied_status,
       a.price AS arrival_price, a.price_time AS arrival_price_time, a.price_source AS arrival_price_source,
       round((CASE o.side WHEN 'BUY' THEN 1 ELSE -1 END)
             * (po.filled_value::numeric / po.filled_quantity - a.price) / a.price * 10000, 4) AS slippage_arrival_bp,
       round((CASE o.side WHEN 'BUY' THEN 1 ELSE -1 END)
             * po.vwap_diff / po.vwap_quantity * 10000, 4) AS slippage_vwap_bp
FROM rebalance_orders o
LEFT JOIN per_order po ON po.order_id = o.order_id
LEFT JOIN LATERAL obsdb_last_price(o.symbol, o.created_at) a ON true;
