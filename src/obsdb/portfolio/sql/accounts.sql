-- The accounts that have a snapshot (two at most: enough to know whether a default exists).
SELECT DISTINCT account_id FROM portfolio_snapshot ORDER BY account_id LIMIT 2
