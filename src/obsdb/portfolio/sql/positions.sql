-- The holdings of one snapshot (a zero quantity is not a holding).
SELECT symbol, quantity FROM portfolio_positions
WHERE account_id = %(account)s AND snapshot_time = %(snapshot_time)s AND quantity > 0
ORDER BY symbol
