INSERT INTO rebalance_orders (order_id, plan_id, symbol, side, quantity, limit_price, target_weight, status,
                              created_at)
VALUES (%(order_id)s, %(plan_id)s, %(symbol)s, %(side)s, %(quantity)s, %(limit_price)s, %(target_weight)s, 'new',
        %(created_at)s)
ON CONFLICT (order_id) DO NOTHING
