-- Portfolio and signals (issue 10): the trustworthy-price rule as a function, signal outcomes filled
-- by derive, and two views for SQL users (holdings with drift, order execution quality).
-- The rebalance band is not a column: it is portfolio_policy.params->>'drift_band' (default 0.05),
-- see docs/portfolio.md.

-- The last trustworthy price of a symbol at or before a time: the last tick whose quality_flag has
-- no 'suspect', else the last swing snapshot (same rule), else the last 1-minute bar's close.
-- Every lookup is a backward index probe on a (symbol, time) key.
CREATE FUNCTION obsdb_last_price(p_symbol text, p_at timestamptz)
RETURNS TABLE (price bigint, price_time timestamptz, price_source text)
LANGUAGE sql STABLE AS $$
    SELECT price, price_time, price_source FROM (
        (SELECT t.last_price, t.event_time, 'tick', 1 FROM scalp_ticks t
         WHERE t.symbol = p_symbol AND t.event_time <= p_at AND t.last_price > 0
           AND NOT ('suspect' = ANY (string_to_array(t.quality_flag, ',')))
         ORDER BY t.event_time DESC LIMIT 1)
        UNION ALL
        (SELECT s.price, s.snapshot_time, 'snapshot', 2 FROM swing_snapshots s
         WHERE s.symbol = p_symbol AND s.snapshot_time <= p_at AND s.price > 0
           AND NOT ('suspect' = ANY (string_to_array(s.quality_flag, ',')))
         ORDER BY s.snapshot_time DESC LIMIT 1)
        UNION ALL
        (SELECT b.close, b.bar_time + interval '1 minute', 'bar_1m', 3 FROM scalp_1m_bars b
         WHERE b.symbol = p_symbol AND b.bar_time + interval '1 minute' <= p_at AND b.close > 0
         ORDER BY b.bar_time DESC LIMIT 1)
    ) found (price, price_time, price_source, rank)
    ORDER BY rank LIMIT 1
$$;

-- One row per signal event once derive has seen its day. Returns are signed in the signal's
-- direction ('down' flips the sign) and exact to 8 decimals; NULL while the horizon's bars are
-- not loaded yet. An outcome is incomplete while return_10m is NULL (the last horizon to be known).
CREATE TABLE analysis_signal_outcomes (
    symbol          text        NOT NULL CHECK (symbol <> ''),
    event_time      timestamptz NOT NULL,
    signal_type     text        NOT NULL CHECK (signal_type <> ''),
    price_at_event  bigint      CHECK (price_at_event > 0),
    price_time      timestamptz,
    return_1m       numeric(12, 8),
    return_5m       numeric(12, 8),
    return_10m      numeric(12, 8),
    mfe_10m         numeric(12, 8),
    mae_10m         numeric(12, 8),
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, event_time, signal_type),
    FOREIGN KEY (symbol, event_time, signal_type)
        REFERENCES analysis_signal_events (symbol, event_time, signal_type) ON DELETE CASCADE
);

-- The latest snapshot of each account, valued now: weight, target (the latest as_of of the
-- snapshot's policy), drift and band. Held-without-target rows have target_weight NULL and drift =
-- weight; targeted-but-not-held rows have quantity 0.
CREATE VIEW portfolio_drift AS
WITH snap AS (
    SELECT DISTINCT ON (ps.account_id) ps.account_id, ps.snapshot_time, ps.cash,
           coalesce(ps.policy_id,
                    (SELECT pp.policy_id FROM portfolio_policy pp
                     WHERE pp.valid_from <= now() AND (pp.valid_to IS NULL OR pp.valid_to > now())
                     ORDER BY pp.valid_from DESC, pp.policy_id LIMIT 1)) AS policy_id
    FROM portfolio_snapshot ps WHERE ps.snapshot_time <= now()
    ORDER BY ps.account_id, ps.snapshot_time DESC
),
tgt AS (
    SELECT t.policy_id, t.symbol, t.weight FROM target_weights t
    WHERE t.as_of = (SELECT max(t2.as_of) FROM target_weights t2
                     WHERE t2.policy_id = t.policy_id AND t2.as_of <= now())
),
held AS (
    SELECT p.account_id, p.symbol, p.quantity FROM snap s
    JOIN portfolio_positions p ON p.account_id = s.account_id AND p.snapshot_time = s.snapshot_time
    WHERE p.quantity > 0
),
wanted AS (
    SELECT s.account_id, g.symbol, g.weight FROM snap s JOIN tgt g ON g.policy_id = s.policy_id
),
lines AS (
    SELECT s.account_id, s.snapshot_time, s.cash, s.policy_id, x.symbol, x.quantity, x.target_weight
    FROM (SELECT coalesce(h.account_id, w.account_id) AS account_id, coalesce(h.symbol, w.symbol) AS symbol,
                 coalesce(h.quantity, 0) AS quantity, w.weight AS target_weight
          FROM held h FULL JOIN wanted w ON w.account_id = h.account_id AND w.symbol = h.symbol) x
    JOIN snap s ON s.account_id = x.account_id
),
valued AS (
    SELECT l.*, lp.price, lp.price_time, lp.price_source, l.quantity * lp.price AS market_value
    FROM lines l LEFT JOIN LATERAL obsdb_last_price(l.symbol, now()) lp ON true
),
totals AS (
    SELECT v.*, v.cash + sum(coalesce(v.market_value, 0)) OVER (PARTITION BY v.account_id) AS total_value
    FROM valued v
)
SELECT t.account_id, t.snapshot_time, t.policy_id, t.symbol, t.quantity, t.price, t.price_time, t.price_source,
       t.market_value, t.total_value,
       round(t.market_value / nullif(t.total_value, 0), 8) AS weight, t.target_weight,
       round(t.market_value / nullif(t.total_value, 0), 8) - coalesce(t.target_weight, 0) AS drift,
       coalesce((pp.params ->> 'drift_band')::numeric, 0.05) AS band
FROM totals t LEFT JOIN portfolio_policy pp ON pp.policy_id = t.policy_id;

-- Per order: fills, implied status, and slippage in basis points (positive = cost: a buy paid more,
-- a sell received less) against the arrival price (the trustworthy price at the order's creation)
-- and against the VWAP of each fill's minute, from the minute's trustworthy ticks.
CREATE VIEW rebalance_execution_quality AS
WITH fills AS (
    SELECT x.order_id, x.symbol, x.quantity, x.price, x.fee, x.executed_at, v.vwap
    FROM rebalance_execution x
    LEFT JOIN LATERAL (
        SELECT sum(w.last_price * w.vol)::numeric / nullif(sum(w.vol), 0) AS vwap
        FROM (
            SELECT k.last_price, k.tick_time,
                   coalesce(k.volume, k.cum_volume - lag(k.cum_volume) OVER (ORDER BY k.tick_time, k.event_time)) AS vol
            FROM (SELECT t.*, coalesce(t.exchange_time, t.event_time) AS tick_time FROM scalp_ticks t
                  WHERE t.symbol = x.symbol
                    AND t.event_time >= date_trunc('minute', x.executed_at) - interval '2 minutes'
                    AND t.event_time < date_trunc('minute', x.executed_at) + interval '2 minutes'
                    AND t.last_price > 0
                    AND NOT (string_to_array(t.quality_flag, ',') && ARRAY['suspect', 'outside_session', 'non_trading_day'])
                 ) k
        ) w
        WHERE w.tick_time >= date_trunc('minute', x.executed_at)
          AND w.tick_time < date_trunc('minute', x.executed_at) + interval '1 minute'
          AND w.vol > 0
    ) v ON true
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
