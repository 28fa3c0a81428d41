-- Execution quality per order of one plan (the view of migration 010).
SELECT order_id, symbol, side, quantity, limit_price, created_at, status, filled_quantity, fill_ratio,
       avg_fill_price, fees, implied_status, arrival_price, arrival_price_time, arrival_price_source,
       slippage_arrival_bp, slippage_vwap_bp
FROM rebalance_execution_quality WHERE plan_id = %(plan)s ORDER BY created_at, order_id
