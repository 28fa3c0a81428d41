-- The most recent plan (of an account when given).
SELECT plan_id FROM rebalance_plan WHERE (%(account)s::text IS NULL OR account_id = %(account)s)
ORDER BY created_at DESC, plan_id DESC LIMIT 1
