-- The account's snapshot in force at a time: the latest at or before it.
SELECT snapshot_time, cash, policy_id FROM portfolio_snapshot
WHERE account_id = %(account)s AND snapshot_time <= %(at)s
ORDER BY snapshot_time DESC LIMIT 1
